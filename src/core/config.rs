//! Loading and saving the scanner configuration (`model::ScannerConfig`) as
//! TOML, and applying overrides from the environment or the command line.
//! Called once at start (and by the ConfigPanel's save); the scan itself
//! only ever sees a validated `ScannerConfig`.

use crate::core::feed_writer::{write_atomic, WriteError};
use crate::model::{ConfigError, ScannerConfig};
use std::path::{Path, PathBuf};

/// Why the configuration could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid configuration: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path} has invalid values: {}", ConfigError::join_all(.errors))]
    Invalid {
        path: PathBuf,
        errors: Vec<ConfigError>,
    },
    #[error("invalid override: {0}")]
    Override(ConfigError),
    #[error("cannot encode the configuration as TOML: {0}")]
    Encode(String),
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Reads `path`: a missing file gives the defaults; a file that is not valid
/// TOML, has an unknown key inside a section, or holds out-of-range values is
/// an error naming the file and every problem. Tables other than the
/// scanner's sections are ignored (the file may configure other parts).
pub fn load_config(path: &Path) -> Result<ScannerConfig, ConfigFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ScannerConfig::default()),
        Err(source) => {
            return Err(ConfigFileError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let config = parse_config(&text).map_err(|message| ConfigFileError::Syntax {
        path: path.to_path_buf(),
        message,
    })?;
    config
        .validate()
        .map_err(|errors| ConfigFileError::Invalid {
            path: path.to_path_buf(),
            errors,
        })?;
    Ok(config)
}

/// Parses TOML text into a configuration (not yet validated).
pub fn parse_config(text: &str) -> Result<ScannerConfig, String> {
    toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
}

/// The configuration as TOML, every value spelled out.
pub fn config_to_toml(config: &ScannerConfig) -> Result<String, ConfigFileError> {
    toml::to_string_pretty(config).map_err(|e| ConfigFileError::Encode(e.to_string()))
}

/// Writes the configuration to `path` atomically (after validating it).
/// Tables of an existing file other than the scanner's sections are kept
/// (comments are not); an existing file that is not valid TOML is left
/// alone and reported, rather than overwritten.
pub fn save_config(path: &Path, config: &ScannerConfig) -> Result<(), ConfigFileError> {
    config
        .validate()
        .map_err(|errors| ConfigFileError::Invalid {
            path: path.to_path_buf(),
            errors,
        })?;
    let mut document = match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str::<toml::Table>(&text).map_err(|e| ConfigFileError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(source) => {
            return Err(ConfigFileError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    match toml::Value::try_from(config).map_err(|e| ConfigFileError::Encode(e.to_string()))? {
        toml::Value::Table(sections) => document.extend(sections),
        other => {
            return Err(ConfigFileError::Encode(format!(
                "expected a table, got {other}"
            )))
        }
    }
    let text =
        toml::to_string_pretty(&document).map_err(|e| ConfigFileError::Encode(e.to_string()))?;
    write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Applies `key=value` overrides (`legacy.min_score=65`), as given on the command line.
pub fn apply_overrides<'a>(
    config: &mut ScannerConfig,
    overrides: impl IntoIterator<Item = &'a str>,
) -> Result<(), ConfigFileError> {
    for item in overrides {
        let (key, value) = item.split_once('=').ok_or_else(|| {
            ConfigFileError::Override(ConfigError::Unparsable {
                key: item.to_string(),
                text: String::new(),
                expected: "key=value",
            })
        })?;
        config
            .set_from_str(key.trim(), value)
            .map_err(ConfigFileError::Override)?;
    }
    Ok(())
}

/// The environment variable overriding a key: `legacy.min_score` ->
/// `QUANTPRO_LEGACY__MIN_SCORE` (the double underscore stands for the dot).
pub fn env_var_name(key: &str) -> String {
    format!("QUANTPRO_{}", key.replace('.', "__").to_ascii_uppercase())
}

/// Applies every `QUANTPRO_SECTION__FIELD` variable found by `lookup`
/// (pass `|name| std::env::var(name).ok()`); returns the keys overridden.
pub fn apply_env_overrides(
    config: &mut ScannerConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<&'static str>, ConfigFileError> {
    let mut applied = Vec::new();
    for field in ScannerConfig::fields() {
        if let Some(value) = lookup(&env_var_name(field.key)) {
            config
                .set_from_str(field.key, &value)
                .map_err(ConfigFileError::Override)?;
            applied.push(field.key);
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            load_config(&dir.path().join("quantpro.toml")).unwrap(),
            ScannerConfig::default()
        );
    }

    #[test]
    fn partial_file_keeps_other_defaults_and_ignores_other_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quantpro.toml");
        std::fs::write(&path, "[server]\nport = 3000\n\n[v2]\nmin_oi_z = 1.5\nrequire_oi = false\n\n[setup]\nsl_lookback = 12\n").unwrap();
        let config = load_config(&path).unwrap();
        assert_eq!(
            (
                config.v2.min_oi_z,
                config.v2.require_oi,
                config.setup.sl_lookback
            ),
            (1.5, false, 12)
        );
        assert_eq!(config.v2.min_score, 50.0);
        assert_eq!(config.legacy, ScannerConfig::default().legacy);
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quantpro.toml");
        let cases = [
            ("[legacy\nmin_score = 1", "is not a valid configuration: TOML parse error at line 1"),
            ("[legacy]\nmin_scor = 70", "unknown field `min_scor`"),
            ("[legacy]\nmin_score = \"high\"", "invalid type: string \"high\", expected f64"),
            ("[legacy]\nmin_score = 170\n[setup]\nsl_lookback = 0", "has invalid values: 'legacy.min_score' must be between 0 and 100, got 170; 'setup.sl_lookback' must be between 1 and 1000, got 0"),
        ];
        for (text, expected) in cases {
            std::fs::write(&path, text).unwrap();
            let err = load_config(&path).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "'{err}' should contain '{expected}'"
            );
            assert!(err.contains("quantpro.toml"), "{err}");
        }
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quantpro.toml");
        let mut config = ScannerConfig::default();
        config.breakout.min_score = 57.5;
        config.indicators.cardwell_window = 60;
        save_config(&path, &config).unwrap();
        assert_eq!(load_config(&path).unwrap(), config);
        config.legacy.min_score = -3.0;
        assert!(matches!(
            save_config(&path, &config),
            Err(ConfigFileError::Invalid { .. })
        ));
        assert_eq!(
            load_config(&path).unwrap().legacy.min_score,
            60.0,
            "a refused save leaves the file alone"
        );
    }

    #[test]
    fn save_keeps_other_tables_and_refuses_to_clobber_a_broken_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quantpro.toml");
        std::fs::write(&path, "[server]\nport = 3000\n\n[v2]\nmin_oi_z = 1.5\n").unwrap();
        let mut config = load_config(&path).unwrap();
        config.v2.min_score = 45.0;
        save_config(&path, &config).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(table["server"]["port"].as_integer(), Some(3000));
        let back = load_config(&path).unwrap();
        assert_eq!((back.v2.min_oi_z, back.v2.min_score), (1.5, 45.0));

        std::fs::write(&path, "[v2\n").unwrap();
        let err = save_config(&path, &config).unwrap_err().to_string();
        assert!(err.contains("is not a valid configuration"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[v2\n");
    }

    #[test]
    fn overrides_from_arguments_and_environment() {
        let mut config = ScannerConfig::default();
        apply_overrides(
            &mut config,
            ["legacy.min_score=65", "v2.require_oi = false"],
        )
        .unwrap();
        assert_eq!(
            (config.legacy.min_score, config.v2.require_oi),
            (65.0, false)
        );
        assert!(apply_overrides(&mut config, ["legacy.min_score"]).is_err());
        assert!(apply_overrides(&mut config, ["legacy.min_score=500"]).is_err());

        assert_eq!(env_var_name("v2.min_oi_z"), "QUANTPRO_V2__MIN_OI_Z");
        let env = |name: &str| (name == "QUANTPRO_SETUP__MIN_RR").then(|| "2".to_string());
        assert_eq!(
            apply_env_overrides(&mut config, env).unwrap(),
            vec!["setup.min_rr"]
        );
        assert_eq!(config.setup.min_rr, 2.0);
        let bad = |name: &str| (name == "QUANTPRO_SETUP__MIN_RR").then(|| "lots".to_string());
        let err = apply_env_overrides(&mut config, bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'setup.min_rr': 'lots' is not a valid value (a number)"),
            "{err}"
        );
    }
}
