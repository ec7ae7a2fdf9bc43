//! The hosts file as bytes with one Slipway-owned block in it.
//!
//! Parsing never interprets lines outside the block, so any file (comments, tabs, several names
//! per line, IPv6, CRLF, no final newline, bytes that are not UTF-8, junk) comes back byte for
//! byte. Only the lines from `# BEGIN slipway` to `# END slipway` belong to Slipway, and only
//! when the markers pair up: a BEGIN without its END, an END without its BEGIN, or a second
//! block is refused, because guessing where Slipway's lines end could delete the user's.

use std::fmt::Write;

pub const BEGIN: &str = "# BEGIN slipway";
pub const END: &str = "# END slipway";
const NOTE: &str = "# Managed by Slipway (`slipway hosts apply` / `slipway hosts remove`); edits here are replaced.";

/// One line of the block: an address and its names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct HostEntry {
    pub address: String,
    pub names: Vec<String>,
}

/// Markers that do not pair up (1-based line numbers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkerProblem {
    #[error("line {line} has `{BEGIN}` with no `{END}` after it")]
    UnclosedBegin { line: usize },
    #[error("line {line} has `{END}` with no `{BEGIN}` before it")]
    StrayEnd { line: usize },
    #[error("line {line} starts a second Slipway block (the first ends on line {first_end})")]
    SecondBlock { line: usize, first_end: usize },
}

/// A hosts file split around Slipway's block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsText {
    /// Everything before the block (or the whole file when there is none).
    pub before: Vec<u8>,
    /// The block's lines, BEGIN and END included, with their line endings; empty when absent.
    pub block: Vec<u8>,
    /// Everything after the block.
    pub after: Vec<u8>,
}

/// Whether `line` (with its ending) is the marker `marker`, spaces around allowed.
fn is_marker(line: &[u8], marker: &str) -> bool {
    line.trim_ascii() == marker.as_bytes()
}

impl HostsText {
    pub fn parse(bytes: &[u8]) -> Result<Self, MarkerProblem> {
        let mut offset = 0;
        let mut begin: Option<(usize, usize)> = None;
        let mut found: Option<(usize, usize, usize)> = None;
        for (i, line) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
            let number = i + 1;
            match (begin, is_marker(line, BEGIN), is_marker(line, END)) {
                (None, true, _) => {
                    if let Some((_, _, first_end)) = found {
                        return Err(MarkerProblem::SecondBlock {
                            line: number,
                            first_end,
                        });
                    }
                    begin = Some((offset, number));
                }
                (Some((_, line)), true, _) => return Err(MarkerProblem::UnclosedBegin { line }),
                (Some((start, _)), _, true) => {
                    found = Some((start, offset + line.len(), number));
                    begin = None;
                }
                (None, _, true) => return Err(MarkerProblem::StrayEnd { line: number }),
                _ => {}
            }
            offset += line.len();
        }
        if let Some((_, line)) = begin {
            return Err(MarkerProblem::UnclosedBegin { line });
        }
        Ok(match found {
            Some((start, end, _)) => Self {
                before: bytes[..start].to_vec(),
                block: bytes[start..end].to_vec(),
                after: bytes[end..].to_vec(),
            },
            None => Self {
                before: bytes.to_vec(),
                block: Vec::new(),
                after: Vec::new(),
            },
        })
    }

    /// The entries in Slipway's block.
    pub fn entries(&self) -> Vec<HostEntry> {
        String::from_utf8_lossy(&self.block)
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
            .filter(|l| !l.is_empty())
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                let address = parts.next()?.to_owned();
                let names: Vec<String> = parts.map(str::to_owned).collect();
                (!names.is_empty()).then_some(HostEntry { address, names })
            })
            .collect()
    }

    /// The block alone for `entries`, with line ending `nl`.
    fn render_block(entries: &[HostEntry], nl: &str) -> Vec<u8> {
        let mut block = String::new();
        let _ = write!(block, "{BEGIN}{nl}{NOTE}{nl}");
        for e in entries {
            let _ = write!(block, "{} {}{nl}", e.address, e.names.join(" "));
        }
        let _ = write!(block, "{END}{nl}");
        block.into_bytes()
    }

    /// The whole file with `entries` as the block (no block when `entries` is empty).
    pub fn with_entries(&self, entries: &[HostEntry]) -> Vec<u8> {
        // The block keeps its own line endings; a new one follows the file's.
        let nl = if self.block.is_empty() {
            style(&self.before)
        } else {
            style(&self.block)
        };
        if entries.is_empty() {
            return self.without_block();
        }
        let mut block = Self::render_block(entries, nl);
        if !self.block.is_empty() {
            // Replace in place; keep a final line ending only if the old block had one.
            if !self.block.ends_with(b"\n") {
                block.truncate(block.len() - nl.len());
            }
            return [self.before.as_slice(), &block, &self.after].concat();
        }
        // Append. A file without a final newline gets one before the block, and the block then
        // ends without one, so removing the block restores the file exactly.
        if self.before.is_empty() || self.before.ends_with(b"\n") {
            [self.before.as_slice(), &block].concat()
        } else {
            block.truncate(block.len() - nl.len());
            [self.before.as_slice(), nl.as_bytes(), &block].concat()
        }
    }

    /// The whole file without Slipway's block.
    pub fn without_block(&self) -> Vec<u8> {
        if self.block.is_empty() {
            return self.before.clone();
        }
        // Undo the separator `with_entries` adds when it appends to a file with no final newline:
        // it was the file's own line ending, which tells "\r\n" from a "\r" that was there.
        if self.after.is_empty() && !self.block.ends_with(b"\n") {
            if let Some(original) = self
                .before
                .strip_suffix(b"\r\n")
                .filter(|o| style(o) == "\r\n")
            {
                return original.to_vec();
            }
            return self
                .before
                .strip_suffix(b"\n")
                .unwrap_or(&self.before)
                .to_vec();
        }
        [self.before.as_slice(), &self.after].concat()
    }
}

/// A text's line ending: CRLF if its first line ends so, else LF.
fn style(text: &[u8]) -> &'static str {
    match text.iter().position(|b| *b == b'\n') {
        Some(i) if i > 0 && text[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entries() -> Vec<HostEntry> {
        vec![
            HostEntry {
                address: "127.0.0.1".into(),
                names: vec!["argocd.local".into(), "backstage.local".into()],
            },
            HostEntry {
                address: "::1".into(),
                names: vec!["argocd.local".into(), "backstage.local".into()],
            },
        ]
    }

    fn parse(text: &str) -> HostsText {
        HostsText::parse(text.as_bytes()).expect("markers pair up")
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("utf-8")
    }

    const REAL_WORLD: &str = "127.0.0.1\tlocalhost\n127.0.1.1  laptop.lan laptop\n\n# The following lines are desirable for IPv6 capable hosts\n::1     ip6-localhost ip6-loopback\nfe00::0 ip6-localnet\n   # indented comment\nthis is not a hosts line at all ☃\n10.0.0.5 db.internal db # trailing comment\n";

    #[test]
    fn golden_append_replace_remove() {
        let doc = parse(REAL_WORLD);
        let applied = text(doc.with_entries(&entries()));
        assert_eq!(
            applied,
            format!(
                "{REAL_WORLD}# BEGIN slipway\n{NOTE}\n127.0.0.1 argocd.local backstage.local\n::1 argocd.local backstage.local\n# END slipway\n"
            )
        );
        let again = parse(&applied);
        assert_eq!(again.entries(), entries());
        assert_eq!(
            text(again.with_entries(&entries())),
            applied,
            "apply twice = no change"
        );
        let fewer = text(again.with_entries(&entries()[..1]));
        assert!(fewer.starts_with(REAL_WORLD) && !fewer.contains("::1 argocd"));
        assert_eq!(text(parse(&fewer).without_block()), REAL_WORLD);
    }

    #[test]
    fn golden_crlf_and_no_final_newline() {
        let crlf = "127.0.0.1 localhost\r\n::1 localhost";
        let applied = text(parse(crlf).with_entries(&entries()));
        assert_eq!(
            applied,
            format!(
                "{crlf}\r\n# BEGIN slipway\r\n{NOTE}\r\n127.0.0.1 argocd.local backstage.local\r\n::1 argocd.local backstage.local\r\n# END slipway"
            )
        );
        assert_eq!(text(parse(&applied).without_block()), crlf);
        assert_eq!(
            text(parse("").with_entries(&entries())).lines().next(),
            Some(BEGIN)
        );
    }

    #[test]
    fn a_block_in_the_middle_is_replaced_in_place() {
        let doc = parse(&format!("a\n{BEGIN}\n127.0.0.1 old.local\n{END}\nb\n"));
        assert_eq!(
            doc.entries(),
            vec![HostEntry {
                address: "127.0.0.1".into(),
                names: vec!["old.local".into()]
            }]
        );
        let out = text(doc.with_entries(&entries()));
        assert!(
            out.starts_with("a\n# BEGIN slipway\n") && out.ends_with("# END slipway\nb\n"),
            "{out}"
        );
        assert_eq!(text(parse(&out).without_block()), "a\nb\n");
    }

    #[test]
    fn markers_that_do_not_pair_up_are_refused_with_their_line() {
        let cases = [
            (
                format!("x\n{BEGIN}\n127.0.0.1 a.local\nmine\n"),
                MarkerProblem::UnclosedBegin { line: 2 },
            ),
            (format!("x\n{END}\n"), MarkerProblem::StrayEnd { line: 2 }),
            (
                format!("{BEGIN}\n{BEGIN}\n{END}\n"),
                MarkerProblem::UnclosedBegin { line: 1 },
            ),
            (
                format!("{BEGIN}\n{END}\nmine\n{BEGIN}\n{END}\n"),
                MarkerProblem::SecondBlock {
                    line: 4,
                    first_end: 2,
                },
            ),
        ];
        for (file, problem) in cases {
            assert_eq!(HostsText::parse(file.as_bytes()), Err(problem), "{file:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_come_back_as_they_were() {
        let original = b"127.0.0.1 caf\xe9.lan\n# \xff\xfe comment\n".to_vec();
        let doc = HostsText::parse(&original).expect("parse");
        let applied = doc.with_entries(&entries());
        assert!(
            applied.starts_with(&original),
            "the user's bytes, untouched"
        );
        let removed = HostsText::parse(&applied).expect("parse").without_block();
        assert_eq!(removed, original);
    }

    proptest! {
        #[test]
        fn arbitrary_files_round_trip_outside_the_block(text in "(?s)[ -~\\t\\r\\n☃é#:]{0,400}") {
            let Ok(doc) = HostsText::parse(text.as_bytes()) else {
                return Ok(());
            };
            let original_outside = doc.without_block();
            let applied = doc.with_entries(&entries());
            let reparsed = HostsText::parse(&applied).expect("Slipway's own block pairs up");
            prop_assert_eq!(reparsed.entries(), entries());
            prop_assert_eq!(reparsed.without_block(), original_outside.clone());
            prop_assert_eq!(reparsed.with_entries(&entries()), applied.clone());
            if doc.block.is_empty() {
                prop_assert!(applied.starts_with(text.as_bytes()));
                prop_assert_eq!(reparsed.without_block(), text.as_bytes().to_vec());
            }
        }

        #[test]
        fn arbitrary_bytes_round_trip_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(doc) = HostsText::parse(&bytes) {
                let applied = doc.with_entries(&entries());
                let back = HostsText::parse(&applied).expect("pairs up").without_block();
                prop_assert_eq!(back, doc.without_block());
                if doc.block.is_empty() {
                    prop_assert!(applied.starts_with(&bytes));
                }
            }
        }
    }
}
