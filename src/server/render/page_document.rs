//! The document around a page the server renders whole, without the
//! Leptos app (the share page, the Track Record page, the alert log, the
//! sign-in form): the app's stylesheet and icon, no script, so it costs the
//! browser bundle nothing; and the top bar those pages share.

use leptos::prelude::*;

/// A complete HTML document of `title` (escaped; " · QuantPro" added)
/// around `body` (HTML).
pub fn page_document(title: &str, body: &str) -> String {
    page_document_with_head(&format!("{title} · QuantPro"), "", body)
}

/// A complete HTML document of the whole `title` (escaped), with `head`
/// (HTML: meta tags) and `body` (HTML).
pub fn page_document_with_head(title: &str, head: &str, body: &str) -> String {
    // `<title>` holds raw text: the renderer's hydration markers (`<!>`,
    // emitted with erased views) would show in the tab. The text itself is
    // escaped, so every `<!>` left is a marker.
    let title = super::to_html(view! { <title>{title.to_string()}</title> }).replace("<!>", "");
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         {title}{head}<link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\">\
         <link rel=\"stylesheet\" href=\"/pkg/quantpro.css\"></head><body>{body}</body></html>"
    )
}

/// The top bar of a page rendered whole: the brand (a link to the
/// dashboard) with the page's `subtitle`, then `children` (a link back to
/// the scanner, a note).
#[component]
pub fn PageTopbar(subtitle: &'static str, children: Children) -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                "QuantPro"
                <span class="brand-sub">{subtitle}</span>
            </a>
            {children()}
        </header>
    }
}
