//! Click-through links: `--link-template 'https://logs.example/{{cluster}}/{{namespace}}/{{name}}'`
//! expanded for a pod or node, each value percent-encoded so a name can never change the
//! URL's shape (no `/`, `?`, `#` or `:` gets through unescaped).
//!
//! A template must start with `http://`, `https://` or a path (`/…`): with the scheme
//! fixed by the operator, no value can turn a link into `javascript:`.

use std::fmt::Write;

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// It does not start with `http://`, `https://` or `/`.
    #[error("link template must start with http://, https:// or /: {0:?}")]
    Scheme(String),
    /// A `{{` without its `}}`.
    #[error("link template has an unclosed \"{{{{\": {0:?}")]
    Unclosed(String),
    /// A placeholder podwall does not know.
    #[error(
        "link template uses {{{{{0}}}}}; known: {{{{cluster}}}}, {{{{namespace}}}}, {{{{name}}}}"
    )]
    Unknown(String),
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Placeholder),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Cluster,
    Namespace,
    Name,
}

/// The values a link is made of; `namespace` is empty for a node.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkValues<'a> {
    /// The cluster's name (`--cluster-name`).
    pub cluster: &'a str,
    /// The pod's namespace ("" for a node).
    pub namespace: &'a str,
    /// The pod's or node's name.
    pub name: &'a str,
}

/// A parsed, validated link template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTemplate {
    source: String,
    parts: Vec<Part>,
}

impl LinkTemplate {
    /// Parses and validates a template.
    pub fn parse(template: &str) -> Result<Self, LinkError> {
        let fixed_scheme = template.starts_with("https://")
            || template.starts_with("http://")
            || (template.starts_with('/') && !template.starts_with("//"));
        if !fixed_scheme {
            return Err(LinkError::Scheme(template.to_owned()));
        }
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| LinkError::Unclosed(template.to_owned()))?;
            let name = after[..close].trim();
            let placeholder = match name {
                "cluster" => Placeholder::Cluster,
                "namespace" => Placeholder::Namespace,
                "name" => Placeholder::Name,
                other => return Err(LinkError::Unknown(other.to_owned())),
            };
            parts.push(Part::Value(placeholder));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self {
            source: template.to_owned(),
            parts,
        })
    }

    /// The template as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The link for `values`, each percent-encoded.
    pub fn expand(&self, values: &LinkValues<'_>) -> String {
        let mut out = String::with_capacity(self.source.len() + 64);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Value(p) => {
                    let v = match p {
                        Placeholder::Cluster => values.cluster,
                        Placeholder::Namespace => values.namespace,
                        Placeholder::Name => values.name,
                    };
                    percent_encode(v, &mut out);
                }
            }
        }
        out
    }
}

impl std::str::FromStr for LinkTemplate {
    type Err = LinkError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A `--link-template` flag: `TEMPLATE` for every cluster, or `NAME=TEMPLATE` for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterLink {
    /// The cluster it is for; every cluster without its own when `None`.
    pub cluster: Option<String>,
    /// The template.
    pub template: LinkTemplate,
}

impl ClusterLink {
    /// Parses `TEMPLATE` or `NAME=TEMPLATE` (NAME a DNS label; a template itself starts
    /// with a scheme or `/`, so the two cannot be confused).
    pub fn parse(s: &str) -> Result<Self, LinkError> {
        if let Some((name, template)) = s.split_once('=')
            && crate::k8s::selector::validate_dns_label(name).is_ok()
        {
            return Ok(Self {
                cluster: Some(name.to_owned()),
                template: LinkTemplate::parse(template)?,
            });
        }
        Ok(Self {
            cluster: None,
            template: LinkTemplate::parse(s)?,
        })
    }

    /// The template for `cluster` among `links`: its own, else the shared one.
    pub fn pick(links: &[ClusterLink], cluster: &str) -> Option<LinkTemplate> {
        links
            .iter()
            .find(|l| l.cluster.as_deref() == Some(cluster))
            .or_else(|| links.iter().find(|l| l.cluster.is_none()))
            .map(|l| l.template.clone())
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(value: &str, out: &mut String) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_with_escaped_values() {
        let t = LinkTemplate::parse(
            "https://logs.example/{{cluster}}/{{namespace}}/{{name}}?q={{ name }}",
        )
        .expect("valid");
        let link = t.expand(&LinkValues {
            cluster: "prod eu",
            namespace: "web",
            name: "a/../b?c#d",
        });
        assert_eq!(
            link,
            "https://logs.example/prod%20eu/web/a%2F..%2Fb%3Fc%23d?q=a%2F..%2Fb%3Fc%23d"
        );
    }

    #[test]
    fn refuses_unsafe_or_broken_templates() {
        assert!(matches!(
            LinkTemplate::parse("javascript:alert({{name}})"),
            Err(LinkError::Scheme(_))
        ));
        assert!(matches!(
            LinkTemplate::parse("{{name}}"),
            Err(LinkError::Scheme(_))
        ));
        assert!(matches!(
            LinkTemplate::parse("//evil.example/{{name}}"),
            Err(LinkError::Scheme(_))
        ));
        assert!(matches!(
            LinkTemplate::parse("https://x/{{name"),
            Err(LinkError::Unclosed(_))
        ));
        assert_eq!(
            LinkTemplate::parse("https://x/{{pod}}"),
            Err(LinkError::Unknown("pod".into()))
        );
        assert!(LinkTemplate::parse("/logs/{{namespace}}/{{name}}").is_ok());
    }

    #[test]
    fn per_cluster_templates() {
        let links: Vec<ClusterLink> = [
            "https://logs.example/?q={{name}}",
            "prod=https://prod-logs.example/{{namespace}}/{{name}}",
        ]
        .iter()
        .map(|s| ClusterLink::parse(s).expect("valid"))
        .collect();
        assert_eq!(
            links[0].cluster, None,
            "'=' inside a template is not a cluster name"
        );
        assert_eq!(links[1].cluster.as_deref(), Some("prod"));
        let pick = |c| ClusterLink::pick(&links, c).map(|t| t.as_str().to_owned());
        assert_eq!(
            pick("prod").as_deref(),
            Some("https://prod-logs.example/{{namespace}}/{{name}}")
        );
        assert_eq!(
            pick("dev").as_deref(),
            Some("https://logs.example/?q={{name}}")
        );
        assert!(ClusterLink::parse("prod=javascript:x").is_err());
        assert_eq!(ClusterLink::pick(&links[1..], "dev"), None);
    }

    #[test]
    fn error_messages_name_the_placeholders() {
        let e = LinkTemplate::parse("https://x/{{pod}}").expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "link template uses {{pod}}; known: {{cluster}}, {{namespace}}, {{name}}"
        );
    }
}
