//! Alerts on the open dashboard (the `browser` channel): each `alert`
//! event of the scan event stream (`scan_events`) becomes a toast (title,
//! lines, share link; dismissed after a while or by its close button;
//! `role="status"` so screen readers announce it) and, once the visitor
//! allowed it with the "Enable desktop notifications" control, a desktop
//! notification. Only the few fields shown are read from the event.

use leptos::prelude::*;
use serde::Deserialize;

/// How long a toast stays unless closed.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const TOAST_MS: u64 = 15_000;

/// The part of an `alert` event the page shows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AlertToast {
    /// The alert's id (`rule|EXCHANGE|SYMBOL|Strategy|candle|kind`).
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub lines: Vec<String>,
    /// The signal's share page.
    pub link: Option<String>,
}

/// The toasts on screen, newest last.
#[derive(Clone, Copy)]
pub struct AlertToasts(RwSignal<Vec<AlertToast>>);

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl AlertToasts {
    pub fn new() -> AlertToasts {
        AlertToasts(RwSignal::new(Vec::new()))
    }

    /// Shows `toast` (and notifies the desktop when allowed), then takes it
    /// away after a while.
    pub fn show(self, toast: AlertToast) {
        notify_desktop(&toast);
        let id = toast.id.clone();
        self.0.update(|list| {
            list.retain(|t| t.id != toast.id);
            list.push(toast);
        });
        set_timeout(
            move || self.close(&id),
            std::time::Duration::from_millis(TOAST_MS),
        );
    }

    fn close(self, id: &str) {
        self.0.update(|list| list.retain(|t| t.id != id));
    }
}

#[component]
pub fn AlertToastList(toasts: AlertToasts) -> impl IntoView {
    view! {
        <div class="toasts" aria-live="polite">
            <For each=move || toasts.0.get() key=|t| t.id.clone() let:toast>
                <div class="toast" role="status" data-testid="alert-toast">
                    <button
                        class="btn btn-ghost btn-small toast-close"
                        aria-label="Close"
                        on:click={
                            let id = toast.id.clone();
                            move |_| toasts.close(&id)
                        }
                    >
                        "✕"
                    </button>
                    <strong>{toast.title.clone()}</strong>
                    {toast.lines.iter().map(|l| view! { <div>{l.clone()}</div> }).collect_view()}
                    {toast.link.clone().map(|href| view! { <a href=href rel="external">"Open the signal"</a> })}
                </div>
            </For>
        </div>
    }
}

/// "Enable desktop notifications": shown (after hydration) while the browser has
/// not been asked yet; asks for the permission once clicked.
#[component]
pub fn NotificationControl() -> impl IntoView {
    // False on the server and until the browser says: nothing rendered,
    // so the hydrated page matches the server's.
    let askable = RwSignal::new(false);
    Effect::new(move |_| askable.set(desktop::permission_is_default()));
    let ask = move |_| {
        desktop::request_permission();
        askable.set(false);
    };
    move || {
        askable.get().then(|| {
            view! {
                <button
                    class="btn btn-ghost btn-small"
                    data-testid="enable-notifications"
                    title="Show a desktop notification for each alert"
                    on:click=ask
                >
                    // An inline icon: an emoji bell is an empty box on a
                    // machine without an emoji font.
                    <svg class="icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
                        <path
                            fill="currentColor"
                            d="M8 1.5a4.5 4.5 0 0 0-4.5 4.5v2.6L2 11v1h12v-1l-1.5-2.4V6A4.5 4.5 0 0 0 8 1.5zM6.3 13a1.8 1.8 0 0 0 3.4 0z"
                        />
                    </svg>
                    " Enable desktop notifications"
                </button>
            }
        })
    }
}

fn notify_desktop(toast: &AlertToast) {
    #[cfg(feature = "hydrate")]
    desktop::notify(&toast.title, &toast.lines.join("\n"));
    #[cfg(not(feature = "hydrate"))]
    let _ = toast;
}

#[cfg(feature = "hydrate")]
mod desktop {
    use web_sys::{Notification, NotificationOptions, NotificationPermission};

    /// Browsers without the API (or outside a secure context) have no
    /// `Notification`: calling it would throw.
    fn available() -> bool {
        web_sys::js_sys::Reflect::has(&web_sys::js_sys::global(), &"Notification".into())
            .unwrap_or(false)
    }

    pub fn permission_is_default() -> bool {
        available() && Notification::permission() == NotificationPermission::Default
    }

    pub fn request_permission() {
        if available() {
            // The answer is read again at the next alert.
            let _ = Notification::request_permission();
        }
    }

    pub fn notify(title: &str, body: &str) {
        if available() && Notification::permission() == NotificationPermission::Granted {
            let options = NotificationOptions::new();
            options.set_body(body);
            let _ = Notification::new_with_options(title, &options);
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod desktop {
    pub fn permission_is_default() -> bool {
        false
    }

    pub fn request_permission() {}
}
