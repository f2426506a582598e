//! Secret and key rows served from this node's memory without ever hiding a write acknowledged by
//! any node on the same database: the row cache of `row_cache`, kept coherent over PostgreSQL's
//! `LISTEN`/`NOTIFY` on the channel [`CHANNEL`].
//!
//! Every node keeps one connection of its own listening and sends on it, every [`BEAT`]:
//! `h <node> <n>`. Notifications reach every listener in commit order, so a node that hears its own
//! heartbeat back has heard everything committed before it was sent; from then it may serve rows
//! from memory until the heartbeat's send time plus [`LEASE`] (its *lease*). A node that stops
//! hearing itself (connection lost, listener starved) stops serving within [`LEASE`], and empties its
//! cache before it serves again. Peers remember each other's leases from the heartbeats they hear.
//!
//! A write of those rows, once committed, empties this node's cache and sends a *fence*
//! `w <node> <seq>` (on the listening connection, or a pooled one if that is down). A peer that hears
//! it empties its cache and answers `a <peer> <node>.<seq> …`. The writer answers its caller only
//! when it has heard its own fence back — by then it has heard every heartbeat committed before the
//! fence, so it knows every peer that may be serving — and then each such peer has answered or its
//! lease, as last heard, has run out. A peer whose next heartbeat commits after the fence hears the
//! fence first. A node that begins listening (starts, or reconnects) has not heard the heartbeats
//! committed before then, so it takes every node whose listening connection `pg_stat_activity`
//! shows (by `application_name`) as serving for one lease, until it answers; if it cannot ask, it
//! waits that first lease out for anyone. So a read that begins, on
//! any node, after a write was acknowledged sees that write. If the writer cannot hear its fence
//! (its own listener is down) it waits one [`LEASE`] from the fence: any node still serving then
//! relies on a heartbeat sent after the fence, so it has heard it. If the fence cannot be sent at
//! all, the writer waits [`MAX_AGE`]: no node holds a row read longer ago than that.
//!
//! Cost: a fence and its round trip per batch of writes of those rows (writes that end while a fence
//! is on its way share the next), an answer per peer, and a heartbeat per node every [`BEAT`]. A peer that dies holds up the writes of the next [`LEASE`] for at most that
//! long. These fences are sent after the write's own transaction, not inside it: a `NOTIFY` in a
//! transaction takes a database-wide lock until its commit has been flushed, which would serialise
//! every write's fsync.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

mod listener;

use deadpool_postgres::Pool;
use tokio::sync::{Notify, watch};
use tokio_postgres::{Client, Config, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use self::listener::{listen, open, send};
use super::db_err;
use crate::{Result, row_cache::Generation};

/// The channel the nodes of one database talk on.
pub(super) const CHANNEL: &str = "keyhold_rows";
/// How often a node tells the others (and itself) it is listening.
const BEAT: Duration = Duration::from_millis(100);
/// How long after sending a heartbeat a node may serve from memory on the strength of hearing it.
const LEASE: Duration = Duration::from_millis(500);
/// No row is held longer than this, whatever became of a fence.
const MAX_AGE: Duration = Duration::from_secs(1);
/// How long after its lease a silent peer is still remembered.
const FORGET: Duration = Duration::from_secs(60);
/// Between attempts to get the listening connection back.
const RETRY: Duration = Duration::from_millis(250);
const NOTIFY: &str = "SELECT pg_notify($1, $2)";
/// Room for one notification's payload (PostgreSQL allows 8000 bytes).
const PAYLOAD: usize = 7000;

pub(super) struct Coherence {
    node: String,
    generation: Arc<Generation>,
    epoch: Instant,
    /// Until when (nanoseconds after `epoch`) this node may serve from memory; 0: not now.
    serving_until: AtomicU64,
    next_fence: AtomicU64,
    next_beat: AtomicU64,
    state: Mutex<State>,
    batches: Mutex<Batches>,
    /// The listening connection and its prepared `NOTIFY`, while it is up.
    sender: Mutex<Option<(Arc<Client>, Statement)>>,
    /// Woken when there are fences of peers to answer.
    to_answer: Notify,
}

/// Writes waiting for a fence.
#[derive(Default)]
struct Batches {
    /// The writes that the next fence will cover: told `true` once it has settled.
    open: Option<watch::Sender<bool>>,
    /// Whether a task is sending fences.
    sending: bool,
}

#[derive(Default)]
struct Fence {
    /// `None` until heard back; then the peers still to answer, with their leases.
    peers: Option<HashMap<String, Instant>>,
    /// Woken when it comes back or is answered.
    heard: Arc<Notify>,
}

#[derive(Default)]
struct State {
    /// This node's heartbeats on their way: number → when sent.
    beats: HashMap<u64, Instant>,
    /// The peers' leases, as last heard.
    peers: HashMap<String, Instant>,
    /// This node's fences not yet settled.
    fences: HashMap<u64, Fence>,
    /// Peers' fences heard and not yet answered: `writer.seq`.
    answers: Vec<String>,
    /// Set when this node began listening without learning who else listens: it has not heard the
    /// heartbeats committed before then, so until one lease later a peer may be serving that it
    /// does not know of.
    listening_since: Option<Instant>,
}

impl Coherence {
    /// Starts listening on a connection of its own (listening before it returns, so that this node's
    /// first writes hear their fences); stops when the returned value is dropped.
    pub(super) async fn start(
        mut config: Config,
        tls: MakeRustlsConnect,
        generation: Arc<Generation>,
    ) -> Result<Arc<Self>> {
        let this = Arc::new(Self::new(generation));
        config.application_name(format!("keyhold-rows {}", this.node));
        let first = open(&config, &tls).await?;
        tokio::spawn(listen(Arc::downgrade(&this), config, tls, Some(first)));
        Ok(this)
    }

    fn new(generation: Arc<Generation>) -> Self {
        Self {
            node: keyhold_crypto::random::version_id(),
            generation,
            epoch: Instant::now(),
            serving_until: AtomicU64::new(0),
            next_fence: AtomicU64::new(0),
            next_beat: AtomicU64::new(0),
            state: Mutex::default(),
            batches: Mutex::default(),
            sender: Mutex::default(),
            to_answer: Notify::new(),
        }
    }

    /// Whether rows in memory may be served now (see the module comment).
    pub(super) fn serving(&self) -> bool {
        self.nanos(Instant::now()) < self.serving_until.load(Ordering::Acquire)
    }

    fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called once a write of cached rows has committed, before its caller is answered: ends what this
    /// node holds, then makes sure no other node serves what it held before the write. Writes that
    /// end while a fence is on its way share the next one, as commits share a flush.
    pub(super) async fn publish(self: &Arc<Self>, pool: &Pool) {
        self.generation.advance();
        let mut settled = {
            let mut batches = self.batches();
            let settled = batches.open.get_or_insert_with(|| watch::channel(false).0).subscribe();
            if !batches.sending {
                batches.sending = true;
                tokio::spawn(self.clone().send_batches(pool.clone()));
            }
            settled
        };
        // An error here means the sender is gone (the runtime is shutting down): nothing to wait for.
        let _ = settled.wait_for(|done| *done).await;
    }

    fn batches(&self) -> std::sync::MutexGuard<'_, Batches> {
        self.batches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One fence per batch of writes, one at a time, while there are writes waiting.
    async fn send_batches(self: Arc<Self>, pool: Pool) {
        loop {
            let Some(batch) = ({
                let mut batches = self.batches();
                let batch = batches.open.take();
                batches.sending = batch.is_some();
                batch
            }) else {
                return;
            };
            self.fence_and_settle(&pool).await;
            let _ = batch.send(true);
        }
    }

    async fn fence_and_settle(&self, pool: &Pool) {
        let (seq, heard, payload) = self.fence();
        // On the listening connection, which no write holds up; else, or if that fails, on the pool's.
        let listening = self.sender.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let sent = match listening {
            Some((client, notify)) => client
                .execute(&notify, &[&CHANNEL, &payload])
                .await
                .map(drop)
                .map_err(db_err),
            None => Err(crate::StoreError::Backend("not listening".into())),
        };
        let sent = match sent {
            Ok(()) => Ok(()),
            Err(_) => send(pool, &payload).await,
        };
        match sent {
            Ok(()) => self.settle(seq, &heard, Instant::now() + LEASE).await,
            Err(e) => {
                tracing::warn!(error = %e, "could not tell the other nodes of a write; waiting until none can hold an older row");
                self.state().fences.remove(&seq);
                tokio::time::sleep(MAX_AGE + BEAT).await;
            }
        }
    }

    /// A new fence: its number, what wakes its writer, and the notification to send.
    fn fence(&self) -> (u64, Arc<Notify>, String) {
        let seq = self.next_fence.fetch_add(1, Ordering::Relaxed);
        let heard = Arc::new(Notify::new());
        self.state().fences.insert(
            seq,
            Fence {
                peers: None,
                heard: heard.clone(),
            },
        );
        (seq, heard, format!("w {} {seq}", self.node))
    }

    /// The next heartbeat to send, noted as sent now.
    fn beat(&self) -> String {
        let n = self.next_beat.fetch_add(1, Ordering::Relaxed);
        self.state().beats.insert(n, Instant::now());
        format!("h {} {n}", self.node)
    }

    /// Waits until fence `seq` has come back and every peer then serving has answered or run out of
    /// lease, or until `fallback` (one lease after the fence was sent) if it does not come back.
    async fn settle(&self, seq: u64, heard: &Notify, fallback: Instant) {
        loop {
            let now = Instant::now();
            let until = {
                let mut state = self.state();
                let until = match state.fences.get_mut(&seq).map(|f| &mut f.peers) {
                    None => None,
                    Some(None) => Some(fallback),
                    Some(Some(peers)) => {
                        peers.retain(|_, lease| *lease > now);
                        peers.values().max().copied()
                    }
                };
                match until {
                    Some(t) if t > now => Some(t),
                    _ => {
                        state.fences.remove(&seq);
                        None
                    }
                }
            };
            let Some(until) = until else { return };
            // A wake-up that came before this wait is kept by `Notify` and ends it at once.
            let _ = tokio::time::timeout_at(until.into(), heard.notified()).await;
        }
    }

    /// One notification on [`CHANNEL`].
    fn hear(&self, payload: &str) {
        let mut words = payload.split(' ');
        let (Some(kind), Some(from)) = (words.next(), words.next()) else {
            return;
        };
        let mine = from == self.node;
        let now = Instant::now();
        match (kind, mine) {
            ("h", true) => {
                let Some(n) = words.next().and_then(|n| n.parse::<u64>().ok()) else {
                    return;
                };
                let sent = {
                    let mut state = self.state();
                    let sent = state.beats.remove(&n);
                    state.beats.retain(|k, _| *k > n);
                    sent
                };
                if let Some(sent) = sent {
                    let was = self.serving_until.load(Ordering::Acquire);
                    if self.nanos(now) >= was {
                        // Not serving until now: whatever it holds may have missed fences.
                        self.generation.advance();
                    }
                    self.serving_until.store(self.nanos(sent + LEASE), Ordering::Release);
                }
            }
            ("h", false) => {
                let mut state = self.state();
                // Nodes that went away (each start is a new node) are forgotten.
                state.peers.retain(|_, lease| *lease + FORGET > now);
                state.peers.insert(from.to_owned(), now + LEASE);
            }
            ("w", true) => {
                let Some(seq) = words.next().and_then(|n| n.parse::<u64>().ok()) else {
                    return;
                };
                let mut state = self.state();
                let mut peers: HashMap<String, Instant> = state
                    .peers
                    .iter()
                    .filter(|(_, lease)| **lease > now)
                    .map(|(p, l)| (p.clone(), *l))
                    .collect();
                if let Some(unheard_until) = state.listening_since.map(|t| t + LEASE)
                    && unheard_until > now
                {
                    // A peer whose last heartbeat came before this node listened: it cannot answer
                    // by a name this node knows, so its lease is waited out.
                    peers.insert(String::new(), unheard_until);
                }
                if let Some(fence) = state.fences.get_mut(&seq) {
                    fence.peers = Some(peers);
                    fence.heard.notify_one();
                }
            }
            ("w", false) => {
                self.generation.advance();
                let Some(seq) = words.next() else { return };
                self.state().answers.push(format!("{from}.{seq}"));
                self.to_answer.notify_one();
            }
            ("a", false) => {
                let prefix = format!("{}.", self.node);
                let mut state = self.state();
                for seq in words.filter_map(|w| w.strip_prefix(&prefix)) {
                    let fence = seq.parse::<u64>().ok().and_then(|s| state.fences.get_mut(&s));
                    if let Some(Fence {
                        peers: Some(peers),
                        heard,
                    }) = fence
                        && peers.remove(from).is_some()
                    {
                        heard.notify_one();
                    }
                }
            }
            _ => {}
        }
    }

    /// Listening from `since`, when `others` (if known) were listening too. Their heartbeats from
    /// before went unheard, so each is taken as serving for one lease from then — until it answers
    /// or is heard — as a peer this node has heard of. Not knowing who listened, it waits out that
    /// lease for anyone.
    fn began_listening(&self, since: Instant, others: Option<Vec<String>>) {
        let mut state = self.state();
        match others {
            Some(others) => {
                state.listening_since = None;
                for other in others.into_iter().filter(|o| *o != self.node) {
                    let lease = state.peers.entry(other).or_insert(since + LEASE);
                    *lease = (*lease).max(since + LEASE);
                }
            }
            None => state.listening_since = Some(since),
        }
    }

    /// Stops serving from memory: the listener is gone.
    fn lapse(&self) {
        self.serving_until.store(0, Ordering::Release);
        let mut state = self.state();
        state.beats.clear();
        state.listening_since = None;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn node() -> (Coherence, Arc<Generation>) {
        let generation = Arc::new(Generation::default());
        (Coherence::new(generation.clone()), generation)
    }

    #[test]
    fn a_node_serves_only_once_it_hears_itself_and_forgets_what_it_held_before() {
        let (me, generation) = node();
        assert!(!me.serving(), "nothing heard yet");
        let beat = me.beat();
        assert!(!me.serving(), "a heartbeat sent is not a heartbeat heard");
        let before = generation.current();
        me.hear(&beat);
        assert!(me.serving());
        assert_ne!(generation.current(), before, "rows held while not hearing must go");

        let before = generation.current();
        me.hear(&me.beat());
        assert!(me.serving());
        assert_eq!(
            generation.current(),
            before,
            "hearing on without a gap keeps what is held"
        );

        me.lapse();
        assert!(!me.serving(), "a lost listener ends serving at once");
        me.hear(&beat);
        assert!(!me.serving(), "an old heartbeat heard again is not a lease");
    }

    #[test]
    fn a_peers_fence_empties_the_cache_and_is_answered() {
        let (me, generation) = node();
        let before = generation.current();
        me.hear("w 0123abcd 7");
        assert_ne!(generation.current(), before);
        assert_eq!(me.state().answers, vec!["0123abcd.7".to_owned()]);
        // Nonsense is ignored.
        for junk in ["", "w", "x y z", "h", "a"] {
            me.hear(junk);
        }
    }

    /// Lets the other tasks run, without letting the (paused) clock move: a wait that ends here
    /// ended because it was woken, not because it timed out.
    async fn run_others() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_settles_when_every_peer_then_serving_has_answered() {
        let (me, _) = node();
        let me = Arc::new(me);
        me.hear("h peer-b 1");
        me.hear("h peer-c 1");
        let (seq, heard, fence) = me.fence();
        let settling = tokio::spawn({
            let (me, heard) = (me.clone(), heard.clone());
            async move { me.settle(seq, &heard, Instant::now() + LEASE).await }
        });
        run_others().await;
        assert!(!settling.is_finished(), "the fence has not come back");
        me.hear(&fence);
        me.hear(&format!("a peer-b {}.{seq}", me.node));
        run_others().await;
        assert!(!settling.is_finished(), "peer-c has not answered and its lease runs");
        // An answer to another node's fence, or to another fence, does not count.
        me.hear(&format!("a peer-c other.{seq} {}.{}", me.node, seq + 1));
        run_others().await;
        assert!(!settling.is_finished());
        me.hear(&format!("a peer-c {}.{seq}", me.node));
        run_others().await;
        assert!(settling.is_finished(), "both peers answered: the write must settle");
        assert!(me.state().fences.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_node_that_cannot_tell_who_listened_before_it_waits_out_every_lease() {
        let (me, _) = node();
        let me = Arc::new(me);
        me.began_listening(Instant::now(), None);
        me.hear("h peer-b 1");
        let (seq, heard, fence) = me.fence();
        let settling = tokio::spawn({
            let (me, heard) = (me.clone(), heard.clone());
            async move { me.settle(seq, &heard, Instant::now() + LEASE).await }
        });
        me.hear(&fence);
        me.hear(&format!("a peer-b {}.{seq}", me.node));
        run_others().await;
        assert!(
            !settling.is_finished(),
            "a peer whose heartbeat came before this node listened may still be serving"
        );
        settling.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn the_nodes_listening_before_this_one_are_waited_for_until_they_answer() {
        let (me, _) = node();
        let me = Arc::new(me);
        me.began_listening(Instant::now(), Some(vec!["peer-x".to_owned(), me.node.clone()]));
        let (seq, heard, fence) = me.fence();
        let settling = tokio::spawn({
            let (me, heard) = (me.clone(), heard.clone());
            async move { me.settle(seq, &heard, Instant::now() + LEASE).await }
        });
        me.hear(&fence);
        run_others().await;
        assert!(
            !settling.is_finished(),
            "peer-x listened before this node, unheard: it may be serving"
        );
        me.hear(&format!("a peer-x {}.{seq}", me.node));
        run_others().await;
        assert!(
            settling.is_finished(),
            "peer-x answered, and this node is no peer of its own"
        );
    }

    #[tokio::test]
    async fn a_silent_peer_holds_a_write_only_until_its_lease_runs_out() {
        let (me, _) = node();
        let me = Arc::new(me);
        me.hear("h peer-b 1");
        let (seq, heard, fence) = me.fence();
        me.hear(&fence);
        tokio::time::timeout(LEASE * 4, me.settle(seq, &heard, Instant::now() + LEASE))
            .await
            .expect("the write settles once the silent peer's lease has run out");
        assert!(me.state().fences.is_empty());
    }
}
