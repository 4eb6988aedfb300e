//! ELSTER software certificates (level substantial). Being written.
