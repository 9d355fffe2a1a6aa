//! The query protocol's request body: `application/x-www-form-urlencoded` pairs, in order, as
//! botocore's `QuerySerializer`/`EC2Serializer` write them (`Action=…&ResourceId.1=…`), with the
//! lookups the actions need: one value, and the numbered members of a flattened list
//! (`Name.1`, `Name.2`, … with no gaps, as AWS numbers them).

use std::collections::BTreeMap;

/// The largest body taken: EC2 query requests are small (a CreateFlowLogs with 300 resources
/// and 50 tags is a few KiB); anything far larger is refused before it is decoded.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Why a body is not a form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// Over [`MAX_BODY_BYTES`].
    #[error("the request body is {0} bytes; at most {MAX_BODY_BYTES} are taken")]
    TooLarge(usize),
    /// A name given twice.
    #[error("the parameter {0} is given more than once")]
    Repeated(String),
    /// Not UTF-8 once percent-decoded.
    #[error("the request body is not form-encoded UTF-8")]
    NotUtf8,
}

/// A decoded form: each name once, with its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: BTreeMap<String, String>,
}

/// Decodes a body (`+` as a space, `%XX` escapes).
pub fn parse(body: &[u8]) -> Result<Form, FormError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(FormError::TooLarge(body.len()));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(FormError::NotUtf8);
    }
    let mut pairs = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        // A replacement character means an escape decoded to bytes that are not UTF-8.
        if k.contains('\u{fffd}') || v.contains('\u{fffd}') {
            return Err(FormError::NotUtf8);
        }
        if pairs.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(FormError::Repeated(k.into_owned()));
        }
    }
    Ok(Form { pairs })
}

impl Form {
    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.get(name).map(String::as_str)
    }

    /// The values of a flattened list `prefix.1`, `prefix.2`, …: the numbered members from 1
    /// until the first missing number.
    pub fn list(&self, prefix: &str) -> Vec<&str> {
        (1..)
            .map_while(|i| self.get(&format!("{prefix}.{i}")))
            .collect()
    }

    /// How many members of the structure list `prefix.N.…` there are (N from 1 until one has
    /// no member).
    pub fn count(&self, prefix: &str) -> usize {
        (1..)
            .take_while(|i| {
                let p = format!("{prefix}.{i}.");
                self.pairs
                    .range(p.clone()..)
                    .next()
                    .is_some_and(|(k, _)| k.starts_with(&p))
            })
            .count()
    }

    /// Every name given, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lists_and_structures_read_as_botocore_flattens_them() {
        let f = parse(
            b"Action=DescribeFlowLogs&FlowLogId.1=fl-1&FlowLogId.2=fl-2&FlowLogId.4=fl-4\
              &Filter.1.Name=resource-id&Filter.1.Value.1=vpc-0abc&Filter.2.Name=tag%3AName\
              &Filter.2.Value.1=a+b",
        )
        .unwrap();
        assert_eq!(f.get("Action"), Some("DescribeFlowLogs"));
        assert_eq!(
            f.list("FlowLogId"),
            ["fl-1", "fl-2"],
            "numbered from 1 without gaps"
        );
        assert_eq!(f.count("Filter"), 2);
        assert_eq!(f.get("Filter.2.Name"), Some("tag:Name"));
        assert_eq!(f.list("Filter.2.Value"), ["a b"]);
        assert_eq!(f.count("TagSpecification"), 0);
    }

    #[test]
    fn bad_bodies_are_refused_with_why() {
        assert_eq!(parse(b"A=1&A=2"), Err(FormError::Repeated("A".into())));
        assert_eq!(parse(b"A=%ff%fe"), Err(FormError::NotUtf8));
        assert_eq!(parse(b"A=\xff"), Err(FormError::NotUtf8));
        let big = vec![b'a'; MAX_BODY_BYTES + 1];
        assert_eq!(parse(&big), Err(FormError::TooLarge(MAX_BODY_BYTES + 1)));
    }

    proptest! {
        /// Any bytes: a form or a refusal, never a panic; a form's names and values survive
        /// being encoded and decoded again.
        #[test]
        fn any_body_parses_or_is_refused(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(f) = parse(&body) {
                let again: String = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(f.pairs.iter())
                    .finish();
                prop_assert_eq!(parse(again.as_bytes()), Ok(f));
            }
        }
    }
}
