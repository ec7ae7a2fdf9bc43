//! Kubernetes quantities (`500m`, `2`, `512Mi`, `4Gi`), as far as Slipway reads them: a decimal
//! number and one suffix (`apimachinery/pkg/api/resource`: binary `Ki`…`Ei`, decimal `k`…`E`,
//! `m` for thousandths; exponent forms such as `1e3` are not used in the bundle).

const SUFFIXES: &[(&str, f64)] = &[
    ("Ki", 1024.0),
    ("Mi", 1_048_576.0),
    ("Gi", 1_073_741_824.0),
    ("Ti", 1_099_511_627_776.0),
    ("Pi", 1_125_899_906_842_624.0),
    ("Ei", 1_152_921_504_606_846_976.0),
    ("m", 1e-3),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
    ("E", 1e18),
    ("", 1.0),
];

/// The quantity in base units (bytes for memory, cores for CPU), or `None` when it is not one.
pub fn parse(value: &str) -> Option<f64> {
    let end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(end);
    let well_formed = !number.is_empty()
        && number.split('.').count() <= 2
        && number.split('.').all(|p| !p.is_empty());
    let (_, factor) = SUFFIXES.iter().find(|(s, _)| *s == suffix)?;
    well_formed.then(|| number.parse::<f64>().ok().map(|n| n * factor))?
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn quantities_in_base_units() {
        assert_eq!(parse("512Mi"), Some(536_870_912.0));
        assert_eq!(parse("1Gi"), Some(1_073_741_824.0));
        assert_eq!(parse("128M"), Some(128e6));
        assert_eq!(parse("500m"), Some(0.5));
        assert_eq!(parse("2"), Some(2.0));
        assert_eq!(parse("1.5Gi"), Some(1_610_612_736.0));
        for bad in ["", "Mi", "1.2.3", "5MB", "1.", "-1"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
