//! The eID card through a BSI TR-03130 eID-Server (level high). Being written.
