//! Group commit. One thread owns the write connection; writes queue up, and each round takes every
//! waiting write into one transaction (each under its own savepoint, so one failing write does not
//! undo the others), commits once — one fsync — and only then answers each caller. Sixteen concurrent
//! writers therefore share fsyncs instead of waiting for sixteen of them.

use std::sync::{Arc, mpsc};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::db_err;
use crate::row_cache::Generation;
use crate::{Result, StoreError};

/// The most writes committed together.
const MAX_BATCH: usize = 512;

type Completion = Box<dyn FnOnce(Result<()>) + Send>;

trait Job: Send {
    /// Runs the write inside the open transaction; the completion learns whether it was committed.
    fn run(self: Box<Self>, conn: &mut Connection) -> Completion;
    fn abort(self: Box<Self>, error: StoreError);
}

struct WriteJob<F, T> {
    f: F,
    reply: oneshot::Sender<Result<T>>,
}

impl<F, T> Job for WriteJob<F, T>
where
    F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut Connection) -> Completion {
        let outcome = (self.f)(conn);
        let reply = self.reply;
        Box::new(move |committed| {
            let _ = reply.send(committed.and(outcome));
        })
    }

    fn abort(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

pub(super) struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// `generation` advances after every transaction, before its callers are answered.
    pub(super) fn start(conn: Connection, generation: Arc<Generation>) -> Result<Self> {
        let (queue, jobs) = mpsc::channel();
        std::thread::Builder::new()
            .name("keyhold-sqlite-writer".into())
            .spawn(move || writer_loop(conn, jobs, &generation))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Self { queue })
    }

    /// Runs `f` in the next group transaction; returns once that transaction is durable.
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(WriteJob { f, reply }))
            .map_err(|_| StoreError::Backend("the database writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Backend("the database writer has stopped".into()))?
    }
}

fn writer_loop(mut conn: Connection, jobs: mpsc::Receiver<Box<dyn Job>>, generation: &Generation) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE").map_err(db_err) {
            for job in batch {
                job.abort(e.clone());
            }
            continue;
        }
        let completions: Vec<Completion> = batch.into_iter().map(|job| job.run(&mut conn)).collect();
        let committed = conn.execute_batch("COMMIT").map_err(db_err);
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        generation.advance();
        for done in completions {
            done(committed.clone());
        }
    }
}
