//! Organisation facts, cached while the organisation facts' epoch stands still.
//!
//! Every use of a grant that acts for someone re-verifies its chain against the facts (rights,
//! mandates, the organisations' standing); a refresh under a two-link chain read four rows in
//! four round trips next to the rotation's one write. The facts change rarely, and every change
//! bumps [`OrgEpoch`] in its own transaction (database triggers), so a node may keep what it
//! read and use it as long as the epoch it reads now is the one it read before fetching. The
//! epoch is read in the same statement as a refresh token's rotation
//! ([`crate::GrantRepo::rotate_refresh_token`]), so a cached refresh costs no extra round
//! trip; a revocation committed before that statement began changes the epoch, and the next
//! use fetches the facts again and refuses the grant.
//!
//! Why it is safe across nodes: the epoch lives in the shared database, and facts are stored
//! under an epoch read *before* they were fetched, so cached facts are never older than the
//! epoch they are filed under. Only the facts are cached; whether they hold is decided anew at
//! every use, at that instant (mandates expire by the clock).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use konto_core::representation::{Party, Representation};

use crate::{
    OrgEpoch, OrgRepo, OrganisationRecord, OwnedFacts, StoreResult, facts_for_chain, facts_for_user,
};

/// The most entries kept per kind; a full map is emptied (they are cheap to fetch again).
pub(crate) const MAX_CACHED: usize = 4096;

/// What a representation's chain rests on, and the represented organisation's record (to
/// describe it in tokens).
#[derive(Debug, Clone)]
pub struct ChainFacts {
    pub facts: OwnedFacts,
    pub represented: Option<OrganisationRecord>,
}

#[derive(Default)]
struct Entries {
    epoch: Option<OrgEpoch>,
    chains: HashMap<Representation, Arc<ChainFacts>>,
    users: HashMap<String, Arc<OwnedFacts>>,
}

impl Entries {
    /// Moves to `epoch`, forgetting everything cached under another one (older or newer: a
    /// request that read an older epoch empties the cache too, which costs only a refetch).
    fn at(&mut self, epoch: OrgEpoch) -> &mut Self {
        if self.epoch != Some(epoch) {
            self.epoch = Some(epoch);
            self.chains.clear();
            self.users.clear();
        }
        self
    }
}

/// Facts per chain and per person, valid for one epoch.
#[derive(Default)]
pub struct FactsCache {
    entries: Mutex<Entries>,
}

impl FactsCache {
    pub fn new() -> FactsCache {
        FactsCache::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // the maps stay consistent even if a holder panicked: every change is one insert or clear
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The facts behind `rep`'s chain as of `epoch` or later (`epoch` read before this call).
    pub async fn chain(
        &self,
        store: &(impl OrgRepo + ?Sized),
        rep: &Representation,
        epoch: OrgEpoch,
    ) -> StoreResult<Arc<ChainFacts>> {
        if let Some(hit) = self.lock().at(epoch).chains.get(rep) {
            return Ok(Arc::clone(hit));
        }
        let facts = facts_for_chain(store, rep).await?;
        let represented = match &rep.represented {
            Party::Organisation(id) => store.organisation(id).await?,
            Party::Person(_) => None,
        };
        let fetched = Arc::new(ChainFacts { facts, represented });
        let mut entries = self.lock();
        if entries.epoch == Some(epoch) {
            if entries.chains.len() >= MAX_CACHED {
                entries.chains.clear();
            }
            entries.chains.insert(rep.clone(), Arc::clone(&fetched));
        }
        Ok(fetched)
    }

    /// Everything that may connect `user_id` to someone they act for
    /// ([`facts_for_user`]), as of `epoch` or later.
    pub async fn user(
        &self,
        store: &(impl OrgRepo + ?Sized),
        user_id: &str,
        epoch: OrgEpoch,
    ) -> StoreResult<Arc<OwnedFacts>> {
        if let Some(hit) = self.lock().at(epoch).users.get(user_id) {
            return Ok(Arc::clone(hit));
        }
        let fetched = Arc::new(facts_for_user(store, user_id).await?);
        let mut entries = self.lock();
        if entries.epoch == Some(epoch) {
            if entries.users.len() >= MAX_CACHED {
                entries.users.clear();
            }
            entries
                .users
                .insert(user_id.to_owned(), Arc::clone(&fetched));
        }
        Ok(fetched)
    }
}
