//! The table's view in the page URL: `TableView` (`quantpro_model::table`)
//! read from and written into the router's query parameters, so that a
//! view can be shared as a link. Parameters the view does not own (such as
//! `panel`) are kept.

use leptos_router::params::ParamsMap;
use quantpro_model::{TableView, VIEW_PARAMS};

/// A `TableView` as the router's query parameters.
pub trait ViewParams {
    fn from_params(params: &ParamsMap) -> Self;
    /// Writes the view into a copy of `base`, replacing the view's own
    /// parameters and keeping the rest.
    fn to_params(&self, base: &ParamsMap) -> ParamsMap;
}

impl ViewParams for TableView {
    fn from_params(params: &ParamsMap) -> TableView {
        TableView::from_query(|key| params.get_str(key))
    }

    fn to_params(&self, base: &ParamsMap) -> ParamsMap {
        let mut params = base.clone();
        for key in VIEW_PARAMS {
            params.remove(key);
        }
        for (key, value) in self.query_pairs() {
            params.replace(key, value);
        }
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::{Bias, Exchange, SignalFilter, SortKey, Strategy};

    fn params(pairs: &[(&'static str, &str)]) -> ParamsMap {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn the_default_view_is_the_bare_url() {
        let view = TableView::from_params(&ParamsMap::new());
        assert_eq!(view, TableView::default());
        assert_eq!(view.to_params(&ParamsMap::new()).to_query_string(), "");
    }

    #[test]
    fn a_view_survives_the_url_round_trip() {
        let view = TableView {
            filter: SignalFilter {
                exchange: Some(Exchange::Mexc),
                strategy: Some(Strategy::BreakoutV2),
                bias: Some(Bias::Short),
                action: None,
                min_score: Some(52.5),
                text: "sol usdt".into(),
            },
            sort: SortKey::OiZ,
            descending: false,
            selected: Some("MEXC:SOL_USDT:BreakoutV2".into()),
        };
        let query = view.to_params(&ParamsMap::new()).to_query_string();
        // The server escapes every non-alphanumeric byte, the browser fewer;
        // both unescape to the same view.
        assert!(
            query.starts_with("?ex=MEXC&strategy=BreakoutV2&bias=SHORT&min=52"),
            "{query}"
        );
        assert!(
            query.contains("&q=sol%20usdt&sort=oiz&dir=asc&sel=MEXC%3ASOL"),
            "{query}"
        );
        // Parse the query the way the router does: split, then insert (which unescapes).
        let mut parsed = ParamsMap::new();
        for pair in query.trim_start_matches('?').split('&') {
            let (k, v) = pair.split_once('=').unwrap();
            parsed.insert(k.to_string(), v.to_string());
        }
        assert_eq!(TableView::from_params(&parsed), view);
    }

    #[test]
    fn default_direction_is_left_out_and_other_params_are_kept() {
        let base = params(&[("panel", "config"), ("sort", "rsi")]);
        let view = TableView::default().sorted_by(SortKey::Symbol);
        assert_eq!((view.sort, view.descending), (SortKey::Symbol, false));
        assert_eq!(
            view.to_params(&base).to_query_string(),
            "?panel=config&sort=symbol"
        );
        let flipped = view.sorted_by(SortKey::Symbol);
        assert!(flipped.descending);
        assert_eq!(
            flipped.to_params(&base).to_query_string(),
            "?panel=config&sort=symbol&dir=desc"
        );
    }

    #[test]
    fn bad_values_fall_back_to_defaults() {
        let view = TableView::from_params(&params(&[
            ("ex", "KRAKEN"),
            ("strategy", "Momentum"),
            ("min", "NaN"),
            ("sort", "volume"),
            ("dir", "sideways"),
            ("sel", ""),
        ]));
        assert_eq!(view, TableView::default());
        let clamped = TableView::from_params(&params(&[("min", "250"), ("ex", "binance")]));
        assert_eq!(clamped.filter.min_score, Some(100.0));
        assert_eq!(clamped.filter.exchange, Some(Exchange::Binance));
    }
}
