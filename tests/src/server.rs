//! What the local stand-ins share: serving a router on a free 127.0.0.1 port until dropped.

use std::{
    net::SocketAddr,
    sync::{Mutex, MutexGuard, PoisonError},
};

use axum::Router;
use tokio::{net::TcpListener, task::JoinHandle};

use crate::HarnessError;

/// A router served on 127.0.0.1; the server stops when this is dropped.
#[derive(Debug)]
pub struct Served {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Served {
    /// Serves the router `make` builds for the address it gets, on a free port.
    pub async fn start(make: impl FnOnce(SocketAddr) -> Router) -> Result<Self, HarnessError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = make(addr);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { addr, task })
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Locks a stand-in's state; a panicked test thread does not poison it for the others.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
