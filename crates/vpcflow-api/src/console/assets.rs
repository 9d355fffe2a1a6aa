//! The console's files, embedded in the binary so that it works offline: the page shell, its
//! script and style, and the vendored chart library (uPlot, `console/vendor/VENDOR.md` names
//! its version, source and licence). No page fetches anything from another host.

use crate::reply::Reply;

/// One embedded file: its name under `/ui/assets/`, type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr, $path:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("app.js", JS, "app.js"),
    asset!("app.css", CSS, "app.css"),
    asset!(
        "uPlot.iife.min.js",
        JS,
        "vendor/uplot-1.6.32/uPlot.iife.min.js"
    ),
    asset!("uPlot.min.css", CSS, "vendor/uplot-1.6.32/uPlot.min.css"),
    asset!("favicon.svg", "image/svg+xml", "favicon.svg"),
];

/// The page shell every console URL answers with (the script draws the page its path names).
const INDEX: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/index.html"));

/// What every console answer carries: nothing from elsewhere may load or run.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                      connect-src 'self'; frame-ancestors 'none'";

fn with_policy(mut r: Reply) -> Reply {
    r.headers
        .push(("content-security-policy", POLICY.to_owned()));
    r.headers
        .push(("x-content-type-options", "nosniff".to_owned()));
    r
}

/// The page shell.
pub fn page() -> Reply {
    let mut r = with_policy(Reply::new(200, "text/html; charset=utf-8", INDEX));
    r.headers.push(("cache-control", "no-cache".to_owned()));
    r
}

/// An embedded file, or 404.
pub fn serve(name: &str) -> Reply {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => {
            let mut r = with_policy(Reply::new(200, a.content_type, a.body));
            r.headers.push(("cache-control", "no-cache".to_owned()));
            r
        }
        None => super::error(404, "NotFound", format!("no asset {name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_shell_names_is_embedded() {
        let shell = std::str::from_utf8(INDEX).unwrap();
        for part in shell.split("/ui/assets/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert_eq!(serve(name).status, 200, "{name}");
        }
        assert_eq!(serve("nope.js").status, 404);
    }
}
