//! The document around a page the server renders whole, without the
//! Leptos app (the sign-in form, the alert log): the app's stylesheet and
//! icon, no script, so it costs the browser bundle nothing.

/// A complete HTML document of `title` (escaped; " · QuantPro" added)
/// around `body` (HTML).
pub fn page_document(title: &str, body: &str) -> String {
    page_document_with_head(&format!("{title} · QuantPro"), "", body)
}

/// A complete HTML document of the whole `title` (escaped), with `head`
/// (HTML: meta tags) and `body` (HTML).
pub fn page_document_with_head(title: &str, head: &str, body: &str) -> String {
    use leptos::prelude::*;
    let title = super::to_html(view! { <title>{title.to_string()}</title> });
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         {title}{head}<link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\">\
         <link rel=\"stylesheet\" href=\"/pkg/quantpro.css\"></head><body>{body}</body></html>"
    )
}
