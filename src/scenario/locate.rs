//! Maps a field path (`consumers[2].service.cv`) to the line it was written on, by
//! re-reading the document into a tree of `toml::Spanned` nodes.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

enum Node {
    Table(BTreeMap<String, Spanned<Node>>),
    Array(Vec<Spanned<Node>>),
    Leaf,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any TOML value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = seq.next_element::<Spanned<Node>>()? {
                    v.push(x);
                }
                Ok(Node::Array(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut t = BTreeMap::new();
                while let Some(k) = map.next_key::<String>()? {
                    let v = map.next_value::<Spanned<Node>>()?;
                    t.insert(k, v);
                }
                Ok(Node::Table(t))
            }
        }
        d.deserialize_any(V)
    }
}

/// Line numbers of a document's values, looked up by field path.
pub struct Locator<'a> {
    text: &'a str,
    root: Option<Node>,
}

/// Splits `a.b[2].c` into `["a", "b", "[2]", "c"]`.
fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        while let Some(open) = rest.find('[') {
            if open > 0 {
                out.push(rest[..open].to_string());
            }
            let close = rest[open..].find(']').map_or(rest.len(), |c| open + c + 1);
            out.push(rest[open..close].to_string());
            rest = &rest[close..];
        }
        if !rest.is_empty() {
            out.push(rest.to_string());
        }
    }
    out
}

impl<'a> Locator<'a> {
    /// Reads the document; a document that does not parse gives no line numbers.
    pub fn new(text: &'a str) -> Self {
        let root = toml::from_str::<Node>(text).ok();
        Locator { text, root }
    }

    /// 1-based line of the deepest part of `path` present in the document.
    pub fn line(&self, path: &str) -> Option<usize> {
        let mut node = self.root.as_ref()?;
        let mut span = None;
        for seg in segments(path) {
            let next = match (node, seg.strip_prefix('[').and_then(|s| s.strip_suffix(']'))) {
                (Node::Array(v), Some(i)) => i.parse::<usize>().ok().and_then(|i| v.get(i)),
                (Node::Table(t), None) => t.get(&seg),
                _ => None,
            };
            match next {
                Some(s) => {
                    span = Some(s.span());
                    node = s.get_ref();
                }
                None => break,
            }
        }
        span.map(|s| self.line_of(s.start))
    }

    /// 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_of_nested_fields() {
        let doc = "name = \"x\"\n\n[[consumers]]\nname = \"a\"\n\n[[consumers]]\nname = \"b\"\nservice = { dist = \"lognormal\", mean = 1, cv = 0 }\n";
        let l = Locator::new(doc);
        assert_eq!(l.line("name"), Some(1));
        assert_eq!(l.line("consumers[1].name"), Some(7));
        assert_eq!(l.line("consumers[1].service.cv"), Some(8));
        // A missing field falls back to the deepest ancestor that exists.
        assert_eq!(l.line("consumers[0].count"), l.line("consumers[0]"));
        assert_eq!(segments("a.b[2].c"), vec!["a", "b", "[2]", "c"]);
    }
}
