//! The CSS classes and badges of the shared vocabulary (an action, a bias,
//! where the candles come from), so that the hydrated dashboard and the
//! pages rendered whole on the server show a signal the same way.

use crate::{Action, Bias};

pub fn action_class(action: Action) -> &'static str {
    match action {
        Action::Long => "action action-long",
        Action::Short => "action action-short",
        Action::Wait => "action action-wait",
    }
}

pub fn bias_class(bias: Bias) -> &'static str {
    match bias {
        Bias::Long => "bias bias-long",
        Bias::Short => "bias bias-short",
        Bias::None => "bias bias-none",
    }
}

/// The badge that says where the candles come from: the project's generated
/// sample or market data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSourceBadgeText {
    pub class: &'static str,
    pub title: &'static str,
    pub label: &'static str,
}

impl DataSourceBadgeText {
    pub fn of(synthetic: bool) -> DataSourceBadgeText {
        if synthetic {
            DataSourceBadgeText {
                class: "badge badge-synthetic",
                title: "Generated random-walk candles (quantpro demo-data), not market data",
                label: "SYNTHETIC DATA",
            }
        } else {
            DataSourceBadgeText {
                class: "badge badge-real",
                title: "Candles fetched from the exchanges",
                label: "Market data",
            }
        }
    }
}
