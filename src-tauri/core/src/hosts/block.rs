//! The hosts file as text with one Slipway-owned block in it.
//!
//! Parsing never interprets lines outside the block, so any file (comments, tabs, several names
//! per line, IPv6, CRLF, no final newline, junk) comes back byte for byte. Only the lines from
//! `# BEGIN slipway` to `# END slipway` belong to Slipway.

use std::fmt::Write;

pub const BEGIN: &str = "# BEGIN slipway";
pub const END: &str = "# END slipway";
const NOTE: &str = "# Managed by Slipway (`slipway hosts apply` / `slipway hosts remove`); edits here are replaced.";

/// One line of the block: an address and its names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct HostEntry {
    pub address: String,
    pub names: Vec<String>,
}

/// A hosts file split around Slipway's block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsText {
    /// Everything before the block (or the whole file when there is none).
    pub before: String,
    /// The block's lines, BEGIN and END included, with their line endings; empty when absent.
    pub block: String,
    /// Everything after the block.
    pub after: String,
}

impl HostsText {
    pub fn parse(text: &str) -> Self {
        let mut offset = 0;
        let mut begin = None;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim_end_matches(['\n', '\r']).trim();
            match begin {
                None if trimmed == BEGIN => begin = Some(offset),
                Some(start) if trimmed == END => {
                    let end = offset + line.len();
                    return Self {
                        before: text[..start].to_owned(),
                        block: text[start..end].to_owned(),
                        after: text[end..].to_owned(),
                    };
                }
                _ => {}
            }
            offset += line.len();
        }
        // No complete block: everything is the user's.
        Self {
            before: text.to_owned(),
            block: String::new(),
            after: String::new(),
        }
    }

    /// The entries in Slipway's block.
    pub fn entries(&self) -> Vec<HostEntry> {
        self.block
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                let address = parts.next()?.to_owned();
                let names: Vec<String> = parts.map(str::to_owned).collect();
                (!names.is_empty()).then_some(HostEntry { address, names })
            })
            .collect()
    }

    /// The whole file with `entries` as the block (no block when `entries` is empty).
    pub fn with_entries(&self, entries: &[HostEntry]) -> String {
        // The block keeps its own line endings; a new one follows the file's.
        let nl = if self.block.is_empty() {
            style(&self.before)
        } else {
            style(&self.block)
        };
        if entries.is_empty() {
            return self.without_block();
        }
        let mut block = String::new();
        let _ = write!(block, "{BEGIN}{nl}{NOTE}{nl}");
        for e in entries {
            let _ = write!(block, "{} {}{nl}", e.address, e.names.join(" "));
        }
        let _ = write!(block, "{END}{nl}");
        if !self.block.is_empty() {
            // Replace in place; keep a final line ending only if the old block had one.
            if !self.block.ends_with('\n') {
                block.truncate(block.len() - nl.len());
            }
            return format!("{}{block}{}", self.before, self.after);
        }
        // Append. A file without a final newline gets one before the block, and the block then
        // ends without one, so removing the block restores the file exactly.
        if self.before.is_empty() || self.before.ends_with('\n') {
            format!("{}{block}", self.before)
        } else {
            block.truncate(block.len() - nl.len());
            format!("{}{nl}{block}", self.before)
        }
    }

    /// The whole file without Slipway's block.
    pub fn without_block(&self) -> String {
        if self.block.is_empty() {
            return self.before.clone();
        }
        // Undo the separator `with_entries` adds when it appends to a file with no final newline:
        // it was the file's own line ending, which tells "\r\n" from a "\r" that was there.
        if self.after.is_empty() && !self.block.ends_with('\n') {
            if let Some(original) = self
                .before
                .strip_suffix("\r\n")
                .filter(|o| style(o) == "\r\n")
            {
                return original.to_owned();
            }
            return self
                .before
                .strip_suffix('\n')
                .unwrap_or(&self.before)
                .to_owned();
        }
        format!("{}{}", self.before, self.after)
    }
}

/// A text's line ending: CRLF if its first line ends so, else LF.
fn style(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
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

    const REAL_WORLD: &str = "127.0.0.1\tlocalhost\n127.0.1.1  laptop.lan laptop\n\n# The following lines are desirable for IPv6 capable hosts\n::1     ip6-localhost ip6-loopback\nfe00::0 ip6-localnet\n   # indented comment\nthis is not a hosts line at all ☃\n10.0.0.5 db.internal db # trailing comment\n";

    #[test]
    fn golden_append_replace_remove() {
        let doc = HostsText::parse(REAL_WORLD);
        let applied = doc.with_entries(&entries());
        assert_eq!(
            applied,
            format!(
                "{REAL_WORLD}# BEGIN slipway\n{NOTE}\n127.0.0.1 argocd.local backstage.local\n::1 argocd.local backstage.local\n# END slipway\n"
            )
        );
        let again = HostsText::parse(&applied);
        assert_eq!(again.entries(), entries());
        assert_eq!(
            again.with_entries(&entries()),
            applied,
            "apply twice = no change"
        );
        let fewer = again.with_entries(&entries()[..1]);
        assert!(fewer.starts_with(REAL_WORLD) && !fewer.contains("::1 argocd"));
        assert_eq!(HostsText::parse(&fewer).without_block(), REAL_WORLD);
    }

    #[test]
    fn golden_crlf_and_no_final_newline() {
        let crlf = "127.0.0.1 localhost\r\n::1 localhost";
        let applied = HostsText::parse(crlf).with_entries(&entries());
        assert_eq!(
            applied,
            format!(
                "{crlf}\r\n# BEGIN slipway\r\n{NOTE}\r\n127.0.0.1 argocd.local backstage.local\r\n::1 argocd.local backstage.local\r\n# END slipway"
            )
        );
        assert_eq!(HostsText::parse(&applied).without_block(), crlf);
        assert_eq!(
            HostsText::parse("").with_entries(&entries()).lines().next(),
            Some(BEGIN)
        );
    }

    #[test]
    fn a_block_in_the_middle_is_replaced_in_place() {
        let text = format!("a\n{BEGIN}\n127.0.0.1 old.local\n{END}\nb\n");
        let doc = HostsText::parse(&text);
        assert_eq!(
            doc.entries(),
            vec![HostEntry {
                address: "127.0.0.1".into(),
                names: vec!["old.local".into()]
            }]
        );
        let out = doc.with_entries(&entries());
        assert!(
            out.starts_with("a\n# BEGIN slipway\n") && out.ends_with("# END slipway\nb\n"),
            "{out}"
        );
        assert_eq!(HostsText::parse(&out).without_block(), "a\nb\n");
    }

    #[test]
    fn an_unterminated_begin_is_left_alone() {
        let text = format!("x\n{BEGIN}\n127.0.0.1 a.local\n");
        let doc = HostsText::parse(&text);
        assert!(doc.block.is_empty());
        assert!(doc.with_entries(&entries()).starts_with(&text));
    }

    proptest! {
        #[test]
        fn arbitrary_files_round_trip_outside_the_block(text in "(?s)[ -~\\t\\r\\n☃é#:]{0,400}") {
            let doc = HostsText::parse(&text);
            let original_outside = doc.without_block();
            let applied = doc.with_entries(&entries());
            let reparsed = HostsText::parse(&applied);
            prop_assert_eq!(reparsed.entries(), entries());
            prop_assert_eq!(reparsed.without_block(), original_outside.clone());
            prop_assert_eq!(reparsed.with_entries(&entries()), applied.clone());
            if doc.block.is_empty() {
                prop_assert!(applied.starts_with(&text));
                prop_assert_eq!(reparsed.without_block(), text);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let text = String::from_utf8_lossy(&bytes);
            let doc = HostsText::parse(&text);
            let _ = doc.entries();
            let _ = doc.with_entries(&entries());
            let _ = doc.without_block();
        }
    }
}
