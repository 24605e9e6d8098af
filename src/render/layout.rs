//! The page's layout options: `group=`, `sort=`, `compact=`, `theme=`, `kiosk=`,
//! `warnings=`. They
//! change how the wall is drawn, never which objects it shows.

use crate::state::{FilterError, FilterParams};

/// How pods are grouped inside a node box.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Grouping {
    /// One run of pods in arrival order.
    #[default]
    None,
    /// By namespace.
    Namespace,
    /// By controlling owner.
    Owner,
}

/// How node boxes are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NodeOrder {
    /// By name.
    #[default]
    Name,
    /// Control plane first, then by role and name.
    Role,
    /// Most requested (CPU or memory, whichever is fuller) first.
    Usage,
}

/// Colour scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Theme {
    /// Dark background (the wall default).
    #[default]
    Dark,
    /// Light background.
    Light,
}

/// The page's layout options; they never change which objects are shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout {
    /// Pod grouping inside nodes.
    pub group: Grouping,
    /// Node order.
    pub sort: NodeOrder,
    /// Pods drawn as dots.
    pub compact: bool,
    /// Colour scheme.
    pub theme: Theme,
    /// Fullscreen wall: no scrollbars, no controls.
    pub kiosk: bool,
    /// `warnings=0`: no warnings lane.
    pub hide_warnings: bool,
}

impl Grouping {
    /// The query value (empty for none).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Namespace => "namespace",
            Self::Owner => "owner",
        }
    }
}

impl NodeOrder {
    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Role => "role",
            Self::Usage => "usage",
        }
    }
}

impl Theme {
    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dark => "dark",
            Self::Light => "light",
        }
    }
}

impl Layout {
    /// Validates the page-only parameters; absent or empty ones take the default.
    pub fn from_params(p: &FilterParams) -> Result<Self, FilterError> {
        let group = match choice(&p.group) {
            "" | "none" => Grouping::None,
            "namespace" | "ns" => Grouping::Namespace,
            "owner" => Grouping::Owner,
            other => return Err(bad_choice("group", other, "namespace, owner")),
        };
        let sort = match choice(&p.sort) {
            "" | "name" => NodeOrder::Name,
            "role" => NodeOrder::Role,
            "usage" => NodeOrder::Usage,
            other => return Err(bad_choice("sort", other, "name, role, usage")),
        };
        let theme = match choice(&p.theme) {
            "" | "dark" => Theme::Dark,
            "light" => Theme::Light,
            other => return Err(bad_choice("theme", other, "dark, light")),
        };
        Ok(Self {
            group,
            sort,
            compact: flag("compact", &p.compact)?,
            theme,
            kiosk: flag("kiosk", &p.kiosk)?,
            // Shown unless `warnings=0`: an empty value keeps the default.
            hide_warnings: match choice(&p.warnings) {
                "" => false,
                _ => !flag("warnings", &p.warnings)?,
            },
        })
    }
}

fn choice(value: &Option<String>) -> &str {
    value.as_deref().map_or("", str::trim)
}

fn bad_choice(param: &'static str, value: &str, allowed: &'static str) -> FilterError {
    FilterError::Choice {
        param,
        value: value.chars().take(64).collect(),
        allowed,
    }
}

fn flag(param: &'static str, value: &Option<String>) -> Result<bool, FilterError> {
    match choice(value) {
        "" | "0" | "false" | "off" => Ok(false),
        "1" | "true" | "on" => Ok(true),
        other => Err(bad_choice(param, other, "1, 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Filter;

    #[test]
    fn layout_options() {
        let (_, p) = Filter::from_query("group=owner&sort=usage&compact=1&theme=light&kiosk=on")
            .expect("valid");
        let layout = Layout::from_params(&p).expect("valid layout");
        assert_eq!(
            layout,
            Layout {
                group: Grouping::Owner,
                sort: NodeOrder::Usage,
                compact: true,
                theme: Theme::Light,
                kiosk: true,
                hide_warnings: false,
            }
        );
        let (_, p) = Filter::from_query("group=&sort=&compact=0").expect("valid");
        assert_eq!(
            Layout::from_params(&p).expect("defaults"),
            Layout::default()
        );
        let (_, p) = Filter::from_query("sort=size").expect("filter still valid");
        let err = Layout::from_params(&p).expect_err("bad sort").to_string();
        assert!(err.starts_with("sort:") && err.contains("usage"), "{err}");
        let (_, p) = Filter::from_query("theme=neon").expect("filter still valid");
        assert!(Layout::from_params(&p).is_err());
        let (_, p) = Filter::from_query("warnings=0").expect("valid");
        assert!(Layout::from_params(&p).expect("valid").hide_warnings);
        let (_, p) = Filter::from_query("warnings=1").expect("valid");
        assert!(!Layout::from_params(&p).expect("valid").hide_warnings);
        let (_, p) = Filter::from_query("warnings=maybe").expect("filter still valid");
        assert!(Layout::from_params(&p).is_err());
    }
}
