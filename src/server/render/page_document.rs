//! The document around a page the server renders whole, without the
//! Leptos app (the sign-in form, the alert log): the app's stylesheet and
//! icon, no script, so it costs the browser bundle nothing.

/// A complete HTML document of `title` (escaped) around `body` (HTML).
pub fn page_document(title: &str, body: &str) -> String {
    use leptos::prelude::*;
    let title = format!("{title} · QuantPro");
    let title = super::to_html(view! { <title>{title}</title> });
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         {title}<link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\">\
         <link rel=\"stylesheet\" href=\"/pkg/quantpro.css\"></head><body>{body}</body></html>"
    )
}
