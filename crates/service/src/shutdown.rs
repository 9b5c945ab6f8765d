//! How a long-running process (`quantpro serve`, `quantpro watch`) learns
//! that it should stop: Ctrl-C at a terminal, or SIGTERM from a service
//! manager, a container runtime or `kill` (treated alike, so a managed
//! process stops as gracefully as one at a terminal); and SIGHUP, which
//! puts an edited `quantpro.toml` in force without a restart.

use crate::settings::SettingsStore;
use std::time::Duration;

/// How long a stopping process waits for alert deliveries already under
/// way (each has its own deadline too); what is still pending then is left
/// to the journal's record.
pub const ALERT_DRAIN: Duration = Duration::from_secs(10);

/// The stop request of this process, listened for from the moment it is
/// made (a signal that comes before anyone awaits it is kept, not lost to
/// the default action that would kill the process).
pub struct StopSignal {
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignal {
    /// Starts listening for Ctrl-C and SIGTERM; needs a tokio runtime.
    pub fn listen() -> StopSignal {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(signal) => Some(signal),
                Err(err) => {
                    tracing::warn!("cannot listen for {name} ({err})");
                    None
                }
            };
            StopSignal {
                terminate: listen(SignalKind::terminate(), "SIGTERM"),
                interrupt: listen(SignalKind::interrupt(), "Ctrl-C"),
            }
        }
        #[cfg(not(unix))]
        StopSignal {}
    }

    /// Returns once the process is asked to stop, and says how.
    pub async fn requested(self) {
        #[cfg(unix)]
        {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(self.interrupt) => tracing::info!("[STOP] Ctrl-C: stopping"),
                () = wait(self.terminate) => tracing::info!("[STOP] SIGTERM: stopping"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("[STOP] Ctrl-C: stopping");
        }
    }
}

/// Puts `quantpro.toml` in force again at every SIGHUP, for as long as the
/// process runs (a file that is not valid is reported and changes nothing).
pub async fn reload_on_hangup(settings: SettingsStore) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            match settings.reload() {
                Ok(_) => {
                    tracing::info!("[CONFIG] SIGHUP: {} is in force", settings.path().display())
                }
                Err(err) => tracing::warn!("[CONFIG] SIGHUP: kept the settings in force: {err}"),
            }
        }
    }
    #[cfg(not(unix))]
    drop(settings);
}
