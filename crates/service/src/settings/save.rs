//! [ssr] Saving through the [`SettingsStore`]: the scanner sections (the
//! ConfigPanel's Save), `[alerts]` (the ConfigPanel's alerts editor, whose
//! one-table TOML text is written and read here too) and
//! `auth.password_hash` (`quantpro set-password`). Each save checks the
//! values first, keeps the file's other tables (not its comments), writes
//! the file atomically and puts the saved settings in force; a file that is
//! not valid TOML is left alone and reported rather than overwritten.

use super::{SettingsError, SettingsStore};
use crate::alerts::AlertSettings;
use quantpro_model::atomic_file::write_atomic;
use quantpro_model::ScannerConfig;
use quantpro_sources::urls::SourceUrls;
use serde::{Deserialize, Serialize};

impl SettingsStore {
    /// `[alerts]` as the ConfigPanel edits it: a TOML document of that
    /// one table. It holds no secret: channels name the environment
    /// variables of their tokens, never the tokens.
    pub fn alerts_text(alerts: &AlertSettings) -> Result<String, SettingsError> {
        let mut document = toml::Table::new();
        document.insert("alerts".to_string(), encode(alerts)?);
        to_text(&document)
    }

    /// The `[alerts]` of a text from the ConfigPanel (as [`Self::alerts_text`]
    /// writes it), validated: a syntax error, another table, an unknown
    /// field or an invalid rule is refused with the field named.
    pub fn parse_alerts_text(&self, text: &str) -> Result<AlertSettings, SettingsError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| self.alerts_syntax(e))?;
        let alerts = match table.remove("alerts") {
            Some(value) => AlertSettings::deserialize(value).map_err(|e| self.alerts_syntax(e))?,
            None => AlertSettings::default(),
        };
        if let Some(other) = table.keys().next() {
            return Err(SettingsError::Alerts {
                path: self.path.clone(),
                problems: vec![format!(
                    "only [alerts] is edited here; '{other}' belongs elsewhere in the file"
                )],
            });
        }
        self.check_alerts(&alerts)?;
        Ok(alerts)
    }

    /// Validates `alerts` and writes it as `[alerts]`, atomically, keeping
    /// the file's other tables; a refused one leaves the file alone.
    pub fn save_alerts(&self, alerts: &AlertSettings) -> Result<(), SettingsError> {
        self.check_alerts(alerts)?;
        let mut document = self.read_table()?;
        document.insert("alerts".to_string(), encode(alerts)?);
        self.write_document(&document)
    }

    /// Validates `config` once and writes its sections to the file
    /// atomically; other tables of the file are kept (comments are not), and
    /// a file that is not valid TOML is left alone and reported rather than
    /// overwritten. Returns the configuration now in force: the saved one
    /// with the environment's overrides on top.
    pub fn save_scanner(&self, config: &ScannerConfig) -> Result<ScannerConfig, SettingsError> {
        config.validate().map_err(|errors| SettingsError::Invalid {
            path: self.path.clone(),
            errors,
        })?;
        let mut document = self.read_table()?;
        match encode(config)? {
            toml::Value::Table(sections) => document.extend(sections),
            other => {
                return Err(SettingsError::Encode(format!(
                    "expected a table, got {other}"
                )))
            }
        }
        self.write_document(&document)?;
        let mut in_force = config.clone();
        let mut sources = SourceUrls::default();
        self.env.apply_overrides(&mut in_force, &mut sources)?;
        Ok(in_force)
    }

    /// Stores the owner's password hash as `auth.password_hash`, atomically,
    /// keeping the file's other tables; a file that is not valid TOML is
    /// left alone and reported.
    pub fn save_password_hash(&self, hash: &str) -> Result<(), SettingsError> {
        let mut document = self.read_table()?;
        let auth = document
            .entry("auth")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(auth) = auth.as_table_mut() else {
            return Err(SettingsError::Auth(format!(
                "'auth' in {} is not a table",
                self.path.display()
            )));
        };
        auth.insert(
            "password_hash".to_string(),
            toml::Value::String(hash.to_string()),
        );
        self.write_document(&document)
    }

    /// Writes `document` over the file atomically and puts it in force.
    fn write_document(&self, document: &toml::Table) -> Result<(), SettingsError> {
        write_atomic(&self.path, to_text(document)?.as_bytes())?;
        self.put_saved_in_force()
    }
}

/// A section as a TOML value.
fn encode(section: impl Serialize) -> Result<toml::Value, SettingsError> {
    toml::Value::try_from(section).map_err(|e| SettingsError::Encode(e.to_string()))
}

/// A document as the file's text.
fn to_text(document: &toml::Table) -> Result<String, SettingsError> {
    toml::to_string_pretty(document).map_err(|e| SettingsError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::store;
    use super::*;
    use std::time::Duration;

    #[test]
    fn save_then_load_round_trips_and_keeps_other_tables() {
        let (_dir, store) = store(Some("[server]\nport = 3000\n\n[v2]\nmin_oi_z = 1.5\n"), &[]);
        let mut config = store.load().unwrap().scanner;
        config.breakout.min_score = 57.5;
        config.indicators.cardwell_window = 60;
        assert_eq!(store.save_scanner(&config).unwrap(), config);
        assert_eq!(store.load().unwrap().scanner, config);
        let text = std::fs::read_to_string(store.path()).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(table["server"]["port"].as_integer(), Some(3000));

        config.legacy.min_score = -3.0;
        assert!(matches!(
            store.save_scanner(&config),
            Err(SettingsError::Invalid { .. })
        ));
        assert_eq!(
            store.load().unwrap().scanner.legacy.min_score,
            60.0,
            "a refused save leaves the file alone"
        );

        std::fs::write(store.path(), "[v2\n").unwrap();
        let err = store
            .save_scanner(&ScannerConfig::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a valid configuration"), "{err}");
        assert_eq!(std::fs::read_to_string(store.path()).unwrap(), "[v2\n");
    }

    #[test]
    fn the_password_hash_is_saved_with_the_other_tables_kept() {
        let (_dir, store) = store(
            Some("[v2]\nmin_oi_z = 1.5\n\n[auth]\nsession_hours = 3\n"),
            &[],
        );
        let hash = crate::password::hash_password("long enough").unwrap();
        store.save_password_hash(&hash).unwrap();
        let settings = store.load().unwrap();
        assert_eq!(settings.auth.password_hash.unwrap().expose(), hash);
        assert_eq!(settings.auth.session_ttl, Duration::from_secs(3 * 3600));
        assert_eq!(settings.scanner.v2.min_oi_z, 1.5);
        // The scanner's Save keeps the hash.
        store.save_scanner(&settings.scanner).unwrap();
        assert!(store.load().unwrap().auth.password_hash.is_some());

        std::fs::write(store.path(), "[auth\n").unwrap();
        assert!(store.save_password_hash(&hash).is_err());
        assert_eq!(std::fs::read_to_string(store.path()).unwrap(), "[auth\n");
    }

    #[test]
    fn alerts_are_read_checked_at_load_and_before_a_save() {
        let text = "[alerts]\ncooldown_minutes = 30\n[[alerts.rules]]\nname = \"strong\"\nmin_score = 70\nchannels = [\"hook\", \"browser\"]\n[alerts.channels.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n[v2]\nmin_oi_z = 1.5\n";
        let (_dir, saved) = store(Some(text), &[]);
        let alerts = saved.load().unwrap().alerts;
        assert_eq!(alerts.cooldown_minutes, 30);
        assert_eq!(alerts.rules[0].min_score, Some(70.0));

        let mut bad = alerts.clone();
        bad.rules[0].min_rr = Some(-1.0);
        let err = saved.save_alerts(&bad).unwrap_err().to_string();
        assert!(
            err.contains("invalid [alerts]: 'alerts.rules[0].min_rr' must be 0 or more, got -1"),
            "{err}"
        );
        let mut good = alerts.clone();
        good.max_per_hour = 5;
        saved.save_alerts(&good).unwrap();
        let settings = saved.load().unwrap();
        assert_eq!(settings.alerts, good);
        assert_eq!(settings.scanner.v2.min_oi_z, 1.5, "other tables are kept");

        let (_dir, refused) = store(
            Some("[[alerts.rules]]\nname = \"x\"\nchannels = [\"tg\"]\n"),
            &[],
        );
        let err = refused.load().unwrap_err().to_string();
        assert!(
            err.contains("'alerts.rules[0].channels' names \"tg\", which is not a channel"),
            "{err}"
        );
        let (_dir, typo) = store(Some("[[alerts.rules]]\nname = \"x\"\nmin_scor = 3\n"), &[]);
        let err = typo.load().unwrap_err().to_string();
        assert!(
            err.contains("invalid [alerts]") && err.contains("unknown field `min_scor`"),
            "{err}"
        );
    }

    #[test]
    fn the_alerts_text_of_the_config_panel_round_trips_and_bad_text_names_the_field() {
        let text = "[alerts]\ncooldown_minutes = 30\n[[alerts.rules]]\nname = \"strong\"\nmin_score = 70\nchannels = [\"tg\"]\n[alerts.channels.tg]\nkind = \"telegram\"\n";
        let (_dir, store) = store(None, &[("QUANTPRO_TELEGRAM_TOKEN", "123:never-shown")]);
        let alerts = store.parse_alerts_text(text).unwrap();
        let written = SettingsStore::alerts_text(&alerts).unwrap();
        assert_eq!(store.parse_alerts_text(&written).unwrap(), alerts);
        assert!(
            written.contains("token_env = \"QUANTPRO_TELEGRAM_TOKEN\""),
            "{written}"
        );
        assert!(!written.contains("never-shown"), "{written}");
        let refused = |text: &str| store.parse_alerts_text(text).unwrap_err().to_string();
        assert!(refused(&text.replace("min_score = 70", "min_rr = -2"))
            .contains("'alerts.rules[0].min_rr' must be 0 or more, got -2"));
        assert!(refused("[alerts]\ncooldown = 3\n").contains("unknown field `cooldown`"));
        assert!(refused("[v2]\nmin_oi_z = 1\n").contains("only [alerts] is edited here; 'v2'"));
        assert!(refused("[alerts\n").contains("invalid [alerts]"));
    }
}
