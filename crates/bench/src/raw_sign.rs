//! The limit for the key-sign figures: the same signatures (RS256 over RSA-2048, ES256 over P-256, each
//! on a SHA-256 digest as Key Vault's `sign` takes it) made in this process with aws-lc-rs alone, one
//! thread per core, for the same duration, in the same run as the API figures.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Result, anyhow};
use aws_lc_rs::{
    digest::{self, Digest},
    rsa::{KeyPair, KeySize},
    signature::{self, EcdsaKeyPair},
};

fn digest() -> Result<Digest> {
    let d = digest::digest(&digest::SHA256, b"keyhold bench");
    Digest::import_less_safe(d.as_ref(), &digest::SHA256).map_err(|_| anyhow!("digest"))
}

/// Signatures per second over `threads` threads for `duration`.
fn rate(threads: usize, duration: Duration, sign: Arc<dyn Fn() -> bool + Send + Sync>) -> Result<f64> {
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (count, stop, sign) = (count.clone(), stop.clone(), sign.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if sign() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().map_err(|_| anyhow!("a signing thread panicked"))?;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

pub fn rsa_2048(duration: Duration) -> Result<f64> {
    let key = Arc::new(KeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow!("RSA keygen"))?);
    let d = Arc::new(digest()?);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    rate(
        threads,
        duration,
        Arc::new(move || {
            let mut sig = vec![0u8; key.public_modulus_len()];
            key.sign_digest(&signature::RSA_PKCS1_SHA256, &d, &mut sig).is_ok()
        }),
    )
}

pub fn p256(duration: Duration) -> Result<f64> {
    let key = Arc::new(
        EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| anyhow!("EC keygen"))?,
    );
    let d = Arc::new(digest()?);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    rate(threads, duration, Arc::new(move || key.sign_digest(&d).is_ok()))
}
