//! ConfigPanel: every scanner threshold (`ScannerConfig::fields`, i.e. the
//! defaults of STRATEGIES.md) with its default and current value. Inputs are
//! checked in the browser with the same field table the server uses
//! (ranges, whole numbers, ordered pairs), then saved through a server
//! function to `quantpro.toml`, which the next scan reads.
//!
//! Its Alerts section (the owner's: the server sends the table to the owner
//! only, with the rest of the configuration) edits the `[alerts]` table as
//! TOML text: rules, cooldown, hourly cap, channels. The server validates it
//! with the rules' own validation, names the field of every problem, and
//! puts what it saved in force at once. No secret is in the text: channels
//! name the environment variables of their tokens.

use super::api::{get_scanner_config, SaveAlertSettings, SaveScannerConfig};
use super::dashboard_state::use_set_panel;
use super::session::use_visitor;
use leptos::prelude::*;
use quantpro_model::{
    AlertsConfig, AlertsSaveOutcome, ConfigError, ConfigField, ConfigSaveOutcome, ConfigState,
    ConfigValue, FieldKind, ScannerConfig,
};

/// The configuration the form's texts describe, or every problem with them
/// (each names its field: `ConfigError::key`).
pub fn config_draft(texts: &[(&'static str, String)]) -> Result<ScannerConfig, Vec<ConfigError>> {
    let config = ScannerConfig::from_texts(texts.iter().map(|(k, t)| (*k, t.as_str())))?;
    config.validate()?;
    Ok(config)
}

/// How a value is written in its input (`60`, `0.05`, `true`).
pub fn value_text(value: Option<ConfigValue>) -> String {
    value.map(ConfigValue::text).unwrap_or_default()
}

#[component]
pub fn ConfigPanel() -> impl IntoView {
    let set_panel = use_set_panel();
    let close = move |_| set_panel(None);
    let loaded = super::codec::resource(|| (), |_| get_scanner_config());
    view! {
        <div class="drawer-backdrop" on:click=close.clone()></div>
        <aside class="drawer config-panel" data-testid="config-panel" aria-label="Scanner configuration">
            <div class="drawer-head">
                <h2>"Scanner configuration"</h2>
                <button class="btn btn-ghost btn-small" title="Close" on:click=close>
                    "✕"
                </button>
            </div>
            <Suspense fallback=|| view! { <p class="panel-note">"Loading configuration…"</p> }>
                {move || Suspend::new(async move {
                    match loaded.await {
                        Ok(state) => view! { <ConfigForm state /> }.into_any(),
                        Err(err) => {
                            view! { <p class="panel-note error">{format!("Cannot load the configuration: {err}")}</p> }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </aside>
    }
}

#[component]
fn ConfigForm(state: ConfigState) -> impl IntoView {
    let ConfigState {
        texts: loaded,
        path,
        error,
        overridden,
        alerts,
    } = state;
    let fields = ScannerConfig::fields();
    // The server sends what is in force, which is valid.
    let in_force = |texts: &[(String, String)]| {
        ScannerConfig::from_texts(texts.iter().map(|(k, t)| (k.as_str(), t.as_str())))
            .unwrap_or_default()
    };
    let config = in_force(&loaded);
    let saved = RwSignal::new(config.clone());
    let texts: Vec<(&'static str, RwSignal<String>)> = fields
        .iter()
        .map(|f| (f.key, RwSignal::new(value_text(config.get(f.key)))))
        .collect();
    let texts = StoredValue::new(texts);
    let draft = Memo::new(move |_| {
        let current: Vec<(&'static str, String)> =
            texts.with_value(|t| t.iter().map(|(k, s)| (*k, s.get())).collect());
        config_draft(&current)
    });
    let save = ServerAction::<SaveScannerConfig>::new();
    let owner = use_visitor().is_owner();
    Effect::new(move |_| {
        if let Some(Ok(ConfigSaveOutcome::Saved(texts))) = save.value().get() {
            saved.set(in_force(&texts));
        }
    });
    let changed = move || draft.with(|d| d.as_ref().is_ok_and(|c| *c != saved.get()));
    let on_save = move |_| {
        if draft.with_untracked(Result::is_ok) {
            let texts = texts.with_value(|t| {
                t.iter()
                    .map(|(k, s)| (k.to_string(), s.get_untracked()))
                    .collect()
            });
            save.dispatch(SaveScannerConfig { texts });
        }
    };
    let reset_defaults = move |_| {
        let defaults = ScannerConfig::default();
        texts.with_value(|t| {
            t.iter()
                .for_each(|(k, s)| s.set(value_text(defaults.get(k))))
        });
    };
    let saved_note = format!("Saved to {path}. The next scan uses it.");
    let status = move || {
        if let Some(result) = save.value().get() {
            return match result {
                Ok(ConfigSaveOutcome::Saved(_)) if !changed() => {
                    view! { <p class="panel-note ok" data-testid="config-status">{saved_note.clone()}</p> }.into_any()
                }
                Ok(ConfigSaveOutcome::Saved(_)) => ().into_any(),
                Ok(ConfigSaveOutcome::Invalid(problems)) => not_saved("config-status", problems),
                Err(err) => save_failed("config-status", err),
            };
        }
        ().into_any()
    };
    let general_errors = move || {
        draft.with(|d| match d {
            Err(errors) => errors
                .iter()
                .filter(|e| e.key().is_none())
                .map(|e| view! { <p class="panel-note error">{e.to_string()}</p> })
                .collect_view()
                .into_any(),
            Ok(_) => ().into_any(),
        })
    };
    let sections: Vec<&'static str> = fields
        .iter()
        .map(|f| f.key.split('.').next().unwrap_or_default())
        .collect();
    let rows = fields
        .into_iter()
        .enumerate()
        .map(|(i, field)| {
            let section = sections[i];
            let previous = i.checked_sub(1).map(|j| sections[j]);
            let heading = (previous != Some(section)).then(|| {
                view! {
                    <tr class="section-row">
                        <th colspan="4">{section_title(section)}</th>
                    </tr>
                }
            });
            let text = texts.with_value(|t| t[i].1);
            view! {
                {heading}
                <ConfigRow field text draft saved />
            }
        })
        .collect_view();

    view! {
        <div class="config-form">
            <p class="panel-note">
                "Thresholds of STRATEGIES.md. Saved to "
                <code>{path.clone()}</code>
                "; the next scan reads them."
            </p>
            {error.map(|e| view! { <p class="panel-note error">{format!("The saved file is unusable, showing defaults: {e}")}</p> })}
            {(!overridden.is_empty()).then(|| view! {
                <p class="panel-note" data-testid="config-overrides">
                    {format!("Set by the environment, which wins over what is saved: {}.", overridden.join(", "))}
                </p>
            })}
            <table class="grid-table config-table">
                <thead>
                    <tr>
                        <th>"Setting"</th>
                        <th class="num">"Default"</th>
                        <th>"Value"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            {general_errors}
            {alerts.map(|config| view! {
                <section class="config-alerts" data-testid="config-alerts">
                    <h3>"Alerts"</h3>
                    <AlertsForm config />
                </section>
            })}
        </div>
        <div class="drawer-foot">
            <button
                class="btn btn-primary"
                data-testid="config-save"
                disabled=move || !owner || draft.with(Result::is_err) || save.pending().get() || !changed()
                title=(!owner).then_some("Sign in as the owner to change the configuration")
                on:click=on_save
            >
                {move || if save.pending().get() { "Saving…" } else { "Save" }}
            </button>
            <button class="btn btn-ghost" data-testid="config-defaults" on:click=reset_defaults>
                "Reset to defaults"
            </button>
            {(!owner).then(|| view! {
                <span class="muted" data-testid="config-read-only">
                    "read-only: "
                    // The drawer covers the top bar's Sign in on narrow and wide screens alike.
                    <a href="/login" rel="external" data-testid="config-sign-in">"sign in"</a>
                    " to save"
                </span>
            })}
            {move || changed().then(|| view! { <span class="muted">"unsaved changes"</span> })}
            {status}
        </div>
    }
}

#[component]
fn AlertsForm(config: AlertsConfig) -> impl IntoView {
    let text = RwSignal::new(config.toml);
    let save = ServerAction::<SaveAlertSettings>::new();
    Effect::new(move |_| {
        if let Some(Ok(AlertsSaveOutcome::Saved(saved))) = save.value().get() {
            text.set(saved);
        }
    });
    let status = move || {
        save.value().get().map(|result| match result {
            Ok(AlertsSaveOutcome::Saved(_)) => view! {
                <p class="panel-note ok" data-testid="alerts-status">"Saved; the new rules are in force."</p>
            }
            .into_any(),
            Ok(AlertsSaveOutcome::Invalid(problems)) => not_saved("alerts-status", problems),
            Err(err) => save_failed("alerts-status", err),
        })
    };
    view! {
        <p class="panel-note">
            "The " <code>"[alerts]"</code> " table of " <code>{config.path}</code>
            ": " <code>"[[alerts.rules]]"</code> " (on, strategies, exchanges, symbols, min_score, min_rr, top_n, channels), "
            "cooldown_minutes, max_per_hour and " <code>"[alerts.channels.NAME]"</code>
            ". Tokens stay in the environment: a channel names its variable."
        </p>
        {config.error.map(|e| view! { <p class="panel-note error">{format!("The saved file is unusable: {e}")}</p> })}
        <textarea
            class="alerts-toml"
            rows="14"
            spellcheck="false"
            aria-label="[alerts] as TOML"
            data-testid="alerts-toml"
            prop:value=move || text.get()
            on:input=move |ev| text.set(event_target_value(&ev))
        ></textarea>
        <div class="alerts-actions">
            <button
                class="btn btn-primary"
                data-testid="alerts-save"
                disabled=move || save.pending().get()
                on:click=move |_| {
                    save.dispatch(SaveAlertSettings { toml: text.get_untracked() });
                }
            >
                "Save alerts"
            </button>
            {status}
        </div>
    }
}

/// A save the server refused: every problem, each naming its field.
fn not_saved(testid: &'static str, problems: Vec<String>) -> AnyView {
    view! {
        <div class="panel-note error" data-testid=testid>
            "Not saved: "
            <ul>{problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
        </div>
    }
    .into_any()
}

/// A save whose call failed.
fn save_failed(testid: &'static str, err: ServerFnError) -> AnyView {
    view! { <p class="panel-note error" data-testid=testid>{format!("Not saved: {err}")}</p> }
        .into_any()
}

#[component]
fn ConfigRow(
    field: ConfigField,
    text: RwSignal<String>,
    draft: Memo<Result<ScannerConfig, Vec<ConfigError>>>,
    saved: RwSignal<ScannerConfig>,
) -> impl IntoView {
    let key = field.key;
    let default_text = value_text(Some(field.default));
    let error = move || {
        draft.with(|d| {
            d.as_ref().err().and_then(|errors| {
                errors
                    .iter()
                    .find(|e| e.key() == Some(key))
                    .map(|e| e.to_string())
            })
        })
    };
    let not_default = {
        let default_text = default_text.clone();
        move || text.with(|t| t.trim() != default_text)
    };
    let unsaved = move || text.with(|t| t.trim() != value_text(saved.with(|c| c.get(key))));
    let range = match field.kind {
        FieldKind::Bool => "true or false".to_string(),
        FieldKind::Integer => format!("whole number {}–{}", field.min, field.max),
        FieldKind::Float => format!("{}–{}", field.min, field.max),
    };
    let input = match field.kind {
        FieldKind::Bool => view! {
            <input
                type="checkbox"
                data-testid="config-input"
                data-key=key
                checked=text.get_untracked() == "true"
                prop:checked=move || text.get() == "true"
                on:change=move |ev| text.set(event_target_checked(&ev).to_string())
            />
        }
        .into_any(),
        kind => view! {
            <input
                class="input-narrow"
                type="number"
                step=if kind == FieldKind::Integer { "1" } else { "any" }
                min=field.min
                max=field.max
                data-testid="config-input"
                data-key=key
                value=text.get_untracked()
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
            />
        }
        .into_any(),
    };
    view! {
        <tr class="config-row" class:invalid=move || error().is_some() class:changed=unsaved data-key=key>
            <td title=field.description>
                <div class="config-label">{field.label}</div>
                <div class="config-key">{key}</div>
            </td>
            <td class="num muted" title="STRATEGIES.md default">
                {default_text}
            </td>
            <td title=range>{input}</td>
            <td class="config-state">
                {move || error().map(|m| view! { <span class="field-error" data-testid="config-error">{m}</span> })}
                {move || (error().is_none() && not_default()).then(|| view! { <span class="badge badge-custom" title="differs from the default">"custom"</span> })}
            </td>
        </tr>
    }
}

fn section_title(section: &str) -> &'static str {
    match section {
        "legacy" => "Legacy (trend pullback)",
        "breakout" => "Breakout",
        "v2" => "BreakoutV2",
        "setup" => "Trade setup",
        "indicators" => "Indicators",
        "data" => "Data",
        _ => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(config: &ScannerConfig) -> Vec<(&'static str, String)> {
        ScannerConfig::fields()
            .into_iter()
            .map(|f| (f.key, value_text(config.get(f.key))))
            .collect()
    }

    #[test]
    fn the_defaults_make_a_valid_draft() {
        assert_eq!(
            config_draft(&form(&ScannerConfig::default())),
            Ok(ScannerConfig::default())
        );
    }

    #[test]
    fn edited_values_are_parsed_by_kind() {
        let mut texts = form(&ScannerConfig::default());
        let set = |texts: &mut Vec<(&'static str, String)>, key: &str, value: &str| {
            texts.iter_mut().find(|(k, _)| *k == key).unwrap().1 = value.to_string();
        };
        set(&mut texts, "legacy.min_score", "0");
        set(&mut texts, "v2.require_oi", "false");
        set(&mut texts, "setup.sl_lookback", " 12 ");
        let config = config_draft(&texts).unwrap();
        assert_eq!(config.legacy.min_score, 0.0);
        assert!(!config.v2.require_oi);
        assert_eq!(config.setup.sl_lookback, 12);
    }

    #[test]
    fn out_of_range_and_inverted_values_name_their_field() {
        let mut texts = form(&ScannerConfig::default());
        texts
            .iter_mut()
            .find(|(k, _)| *k == "legacy.min_score")
            .unwrap()
            .1 = "150".into();
        texts
            .iter_mut()
            .find(|(k, _)| *k == "setup.sl_lookback")
            .unwrap()
            .1 = "2.5".into();
        let errors = config_draft(&texts).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].key(), Some("legacy.min_score"));
        assert_eq!(
            errors[0].to_string(),
            "'legacy.min_score' must be between 0 and 100, got 150"
        );
        assert_eq!(errors[1].key(), Some("setup.sl_lookback"));

        let mut texts = form(&ScannerConfig::default());
        texts
            .iter_mut()
            .find(|(k, _)| *k == "legacy.long_rsi_min")
            .unwrap()
            .1 = "70".into();
        let errors = config_draft(&texts).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].key(), Some("legacy.long_rsi_min"));
        assert_eq!(
            errors[0].to_string(),
            "'legacy.long_rsi_min' (70) must not exceed 'legacy.long_rsi_max' (55)"
        );
        texts
            .iter_mut()
            .find(|(k, _)| *k == "legacy.long_rsi_min")
            .unwrap()
            .1 = "abc".into();
        assert!(config_draft(&texts).unwrap_err()[0]
            .to_string()
            .contains("not a valid value"));
    }

    #[test]
    fn values_are_written_plainly_and_read_back() {
        assert_eq!(value_text(Some(ConfigValue::Number(60.0))), "60");
        assert_eq!(value_text(Some(ConfigValue::Number(0.05))), "0.05");
        assert_eq!(value_text(Some(ConfigValue::Bool(true))), "true");
        assert_eq!(value_text(None), "");
        let mut config = ScannerConfig::default();
        config.setup.min_rr = 1.75;
        config.v2.require_oi = false;
        let texts = config.texts();
        assert_eq!(texts.len(), ScannerConfig::fields().len());
        let back = ScannerConfig::from_texts(texts.iter().map(|(k, t)| (k.as_str(), t.as_str())));
        assert_eq!(back.unwrap(), config);
    }
}
