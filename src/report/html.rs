//! `report.html`: the same content as `report.md` as one self-contained page — CSS inline,
//! every chart an inline SVG (its `<title>` elements show the values under the pointer),
//! no script, no reference to the network — so it opens from a file, offline, as sent.
//! Markdown is turned into HTML by `pulldown-cmark`; an image whose file has an SVG given
//! here is replaced by that SVG.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

const CSS: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;max-width:1140px;margin:24px auto;padding:0 16px;color:#222;line-height:1.45}\
h1{font-size:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}h2{font-size:1.25em;margin-top:1.6em}\
table{border-collapse:collapse;margin:.8em 0;font-size:.9em;display:block;overflow-x:auto}\
th,td{border:1px solid #d0d7de;padding:4px 8px}th{background:#f3f5f7}tr:nth-child(even) td{background:#fafbfc}\
pre{background:#f6f8fa;padding:10px;overflow-x:auto;font-size:.8em;line-height:1.3}code{font-family:'DejaVu Sans Mono',monospace}\
figure{margin:1em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.9em;color:#555}";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page: `title`, the markdown `md` rendered, each image `![caption](file)` whose
/// `file` is a key of `svgs` (file name → SVG text) inlined as a figure. An image with no
/// SVG keeps only its caption, so the page never points at a file beside it.
pub fn page(title: &str, md: &str, svgs: &[(String, String)]) -> String {
    let mut events: Vec<Event<'_>> = Vec::new();
    let mut in_image: Option<String> = None;
    let mut caption = String::new();
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match ev {
            Event::Start(Tag::Image { dest_url, .. }) => {
                in_image = Some(dest_url.to_string());
                caption.clear();
            }
            Event::End(TagEnd::Image) => {
                let file = in_image.take().unwrap_or_default();
                let svg = svgs.iter().find(|(f, _)| *f == file).map(|(_, s)| s.as_str());
                let body = match svg {
                    // The XML prolog is not allowed inside HTML.
                    Some(s) => s.trim_start_matches(|c| c != '<').to_string(),
                    None => String::new(),
                };
                // Inline SVG in HTML needs no namespace declaration; dropping it leaves the
                // page without a single URL.
                let body = match body.find("<svg") {
                    Some(i) => body[i..]
                        .replace(" xmlns=\"http://www.w3.org/2000/svg\"", "")
                        .replace(" xmlns:xlink=\"http://www.w3.org/1999/xlink\"", ""),
                    None => body,
                };
                events.push(Event::Html(CowStr::from(format!(
                    "<figure>{body}<figcaption>{}</figcaption></figure>",
                    escape(&caption)
                ))));
            }
            Event::Text(t) | Event::Code(t) if in_image.is_some() => caption.push_str(&t),
            _ if in_image.is_some() => {}
            other => events.push(other),
        }
    }
    let mut body = String::new();
    html::push_html(&mut body, events.into_iter());
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::charts::{ImageFormat, render};
    use crate::report::figures::{latency_figures, time_figures};

    /// A real run's page: the headline, tables and every chart inline, and nothing fetched
    /// from anywhere (no http:// or https:// reference, no external file).
    #[test]
    fn the_page_is_self_contained() {
        use crate::analytic::analyze;
        use crate::analytic::tests::{PIPELINE, model};
        let mut m = model(PIPELINE);
        m.simulation.replications = 2;
        m.simulation.horizon = 300.0;
        m.simulation.warmup = 30.0;
        let out = crate::sim::run(&m, Some(10.0), &crate::sim::NoProgress);
        let theory = analyze(&m);
        let mut figs = latency_figures(&out, Some(&theory), None);
        figs.extend(time_figures(&out, &m, Some(&theory)));
        let svgs: Vec<(String, String)> = figs
            .iter()
            .map(|f| {
                let svg = render(&f.panels, ImageFormat::Svg, 1100, f.panel_height).unwrap();
                (format!("{}.png", f.stem), String::from_utf8(svg).unwrap())
            })
            .collect();
        let written: Vec<(String, String)> =
            figs.iter().map(|f| (format!("{}.png", f.stem), f.caption.clone())).collect();
        let md = crate::report::markdown::run_markdown(&out.report, Some(&theory), &written);
        let html = page("pipeline", &md, &svgs);
        assert!(!html.contains("http://") && !html.contains("https://"), "network reference");
        assert!(!html.contains("src=") && !html.contains("<img"), "external file reference");
        assert!(!html.contains("<?xml"), "XML prolog inside HTML");
        assert_eq!(html.matches("<svg").count(), figs.len());
        assert!(html.contains("</title></circle>"), "values on hover");
        assert!(html.contains("<table>") && html.contains("<strong>"), "tables and headline");
    }
}
