//! The listening connection of `coherence`: opening it (and learning who else listens), hearing on
//! it, sending this node's heartbeats and answers on it, and getting it back when it breaks. What
//! is heard and what it means is the parent's business.

use std::{
    sync::{Arc, Weak},
    time::Instant,
};

use deadpool_postgres::Pool;
use futures_util::StreamExt;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::mpsc,
};
use tokio_postgres::{AsyncMessage, Client, Config, Connection, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{BEAT, CHANNEL, Coherence, MAX_AGE, NOTIFY, PAYLOAD, RETRY};
use crate::{
    Result,
    postgres::{db_err, execute, pool_err},
};

pub(super) async fn send(pool: &Pool, payload: &str) -> Result<()> {
    let c = pool.get().await.map_err(pool_err)?;
    execute(&c, NOTIFY, &[&CHANNEL, &payload]).await.map(drop)
}

/// A connection listening on [`CHANNEL`]: the client, what it hears, and its prepared `NOTIFY`.
pub(super) struct Listening {
    client: Arc<Client>,
    heard: mpsc::UnboundedReceiver<String>,
    notify: Statement,
    /// When `LISTEN` had taken effect.
    since: Instant,
    /// The nodes whose listening connections were open then (see [`Coherence::began_listening`]).
    others: Option<Vec<String>>,
}

pub(super) async fn open(config: &Config, tls: &MakeRustlsConnect) -> Result<Listening> {
    let (client, connection) = config.connect(tls.clone()).await.map_err(db_err)?;
    let (tx, heard) = mpsc::unbounded_channel();
    tokio::spawn(drive(connection, tx));
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(db_err)?;
    let since = Instant::now();
    // Who listened before this connection did: their heartbeats from before went unheard. On
    // failure, `None`, and every peer's lease is waited out instead.
    let others = client
        .query(
            "SELECT substr(application_name, 14) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name LIKE 'keyhold-rows %'
               AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .ok()
        .map(|rows| rows.iter().filter_map(|r| r.try_get::<_, String>(0).ok()).collect());
    let notify = client.prepare(NOTIFY).await.map_err(db_err)?;
    Ok(Listening {
        client: Arc::new(client),
        heard,
        notify,
        since,
        others,
    })
}

/// The listening connection, for as long as the store lives: reconnects after [`RETRY`].
pub(super) async fn listen(
    this: Weak<Coherence>,
    config: Config,
    tls: MakeRustlsConnect,
    mut first: Option<Listening>,
) {
    // Said once per outage, not at every attempt.
    let mut failing = false;
    loop {
        let listening = match first.take() {
            Some(l) => Ok(l),
            None => open(&config, &tls).await,
        };
        match listening {
            Ok(l) => {
                if failing {
                    tracing::info!("listening again: serving rows from memory");
                    failing = false;
                }
                if let Err(e) = serve(&this, l).await {
                    tracing::warn!(error = %e, "lost the connection that keeps cached rows coherent; reading through until it is back");
                    failing = true;
                }
            }
            Err(e) if !failing => {
                tracing::warn!(error = %e, "cannot open the connection that keeps cached rows coherent; retrying");
                failing = true;
            }
            Err(_) => {}
        }
        let Some(coherence) = this.upgrade() else { return };
        coherence.lapse();
        drop(coherence);
        tokio::time::sleep(RETRY).await;
    }
}

/// Polls the connection, passing its notifications on, until it ends.
async fn drive<S, T>(mut connection: Connection<S, T>, tx: mpsc::UnboundedSender<String>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    while let Some(message) = messages.next().await {
        match message {
            Ok(AsyncMessage::Notification(n)) if n.channel() == CHANNEL => {
                if tx.send(n.payload().to_owned()).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// Listens, beats and answers on one connection; returns when it breaks or the store is dropped.
async fn serve(this: &Weak<Coherence>, listening: Listening) -> Result<()> {
    let Listening {
        client,
        mut heard,
        notify,
        since,
        others,
    } = listening;
    if let Some(coherence) = this.upgrade() {
        coherence.began_listening(since, others);
    }
    let answering = tokio::spawn(answer(this.clone(), client.clone(), notify.clone()));
    let set_sender = |to: Option<(Arc<Client>, Statement)>| {
        if let Some(coherence) = this.upgrade() {
            *coherence.sender.lock().unwrap_or_else(|e| e.into_inner()) = to;
        }
    };
    set_sender(Some((client.clone(), notify.clone())));
    let mut beat = tokio::time::interval(BEAT);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut aged = Instant::now();
    let result = loop {
        tokio::select! {
            _ = beat.tick() => {
                let Some(coherence) = this.upgrade() else { break Ok(()) };
                if aged.elapsed() >= MAX_AGE {
                    coherence.generation.advance();
                    aged = Instant::now();
                }
                let payload = coherence.beat();
                drop(coherence);
                let (client, notify) = (client.clone(), notify.clone());
                // Not awaited here: hearing must not wait for the send.
                tokio::spawn(async move {
                    let _ = client.execute(&notify, &[&CHANNEL, &payload]).await;
                });
            }
            payload = heard.recv() => {
                let Some(payload) = payload else {
                    break Err(crate::StoreError::Backend("the listening connection ended".into()));
                };
                let Some(coherence) = this.upgrade() else { break Ok(()) };
                coherence.hear(&payload);
            }
        }
    };
    answering.abort();
    set_sender(None);
    result
}

/// Answers peers' fences, as many per notification as fit.
async fn answer(this: Weak<Coherence>, client: Arc<Client>, notify: Statement) {
    loop {
        let (pending, node) = {
            let Some(coherence) = this.upgrade() else { return };
            let notified = coherence.to_answer.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let pending = std::mem::take(&mut coherence.state().answers);
            if pending.is_empty() {
                // Woken at least every beat, so that a dropped store ends this task.
                let _ = tokio::time::timeout(BEAT, notified).await;
                continue;
            }
            (pending, coherence.node.clone())
        };
        let mut payload = format!("a {node}");
        for (i, seq) in pending.iter().enumerate() {
            payload.push(' ');
            payload.push_str(seq);
            if payload.len() > PAYLOAD || i + 1 == pending.len() {
                if client.execute(&notify, &[&CHANNEL, &payload]).await.is_err() {
                    return;
                }
                payload = format!("a {node}");
            }
        }
    }
}
