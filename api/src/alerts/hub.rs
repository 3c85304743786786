//! Where live streams learn that a company's alerts changed: on PostgreSQL a LISTEN connection per instance
//! (so an alert raised on instance A reaches a browser connected to instance B), on SQLite the in-process
//! channel fed after each commit.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{broadcast, watch};
use tokio_postgres::AsyncMessage;

use crate::db::DatabaseUrl;
use crate::db::notify::{ALERTS_CHANNEL, local_channel};

/// Announced to every stream when notifications may have been lost (the listener reconnected): each stream
/// then looks for anything new.
pub const EVERYONE: &str = "*";

/// Wake-ups for the alert streams of this instance; the payload is a company id (or [`EVERYONE`]).
#[derive(Clone)]
pub struct AlertHub {
    sender: broadcast::Sender<String>,
    /// Becomes `true` when the server starts shutting down: every stream ends then, so that open streams do
    /// not hold the shutdown until its timeout.
    shutdown: watch::Receiver<bool>,
}

impl AlertHub {
    /// The hub for this database. On PostgreSQL it starts this instance's listener (call within the server's
    /// runtime).
    pub fn start(url: &DatabaseUrl, shutdown: watch::Receiver<bool>) -> Self {
        match url {
            DatabaseUrl::Sqlite(_) => Self { sender: local_channel().clone(), shutdown },
            DatabaseUrl::Postgres(url) => {
                let sender = broadcast::channel(1024).0;
                tokio::spawn(listen(url.clone(), sender.clone()));
                Self { sender, shutdown }
            }
        }
    }

    /// Resolves when the server starts shutting down.
    pub async fn shutting_down(&self) {
        let mut shutdown = self.shutdown.clone();
        let _ = shutdown.wait_for(|closing| *closing).await;
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.sender.subscribe()
    }
}

/// Keeps a LISTEN connection open, reconnecting with backoff; every notification wakes the streams.
async fn listen(url: String, sender: broadcast::Sender<String>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match crate::db::listen::connect(&url).await {
            Ok((client, mut connection)) => {
                let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                let listening = async {
                    client.batch_execute(&format!("LISTEN {ALERTS_CHANNEL}")).await?;
                    Ok::<_, tokio_postgres::Error>(())
                };
                // The connection must be polled for LISTEN to complete, so both run together.
                let mut listening = std::pin::pin!(listening);
                let mut ready = false;
                loop {
                    tokio::select! {
                        outcome = &mut listening, if !ready => {
                            if let Err(error) = outcome {
                                log::warn!("alert listener could not LISTEN: {error}");
                                break;
                            }
                            ready = true;
                            backoff = Duration::from_millis(250);
                            // Anything raised while we were away must be looked for.
                            let _ = sender.send(EVERYONE.to_owned());
                        }
                        message = messages.next() => match message {
                            Some(Ok(AsyncMessage::Notification(notification))) => {
                                let _ = sender.send(notification.payload().to_owned());
                            }
                            Some(Ok(_)) => {}
                            Some(Err(error)) => {
                                log::warn!("alert listener lost its connection: {error}");
                                break;
                            }
                            None => break,
                        }
                    }
                }
            }
            Err(error) => log::warn!("alert listener cannot connect: {error:#}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}
