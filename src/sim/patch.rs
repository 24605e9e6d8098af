//! JSON merge patch (RFC 7386), the patch type the simulator applies.

use serde_json::Value;

/// Applies `patch` to `target` in place: objects merge recursively, `null` deletes a
/// member, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    if let Value::Object(t) = target {
        for (k, v) in patch {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// Removes strategic merge patch `$setElementOrder/<list>` directives. They only order
/// the elements of a merged list; applied as a merge patch the list is replaced, and the
/// directive would otherwise land in the object as an unknown field.
pub fn strip_element_order(patch: &mut Value) {
    if let Value::Object(map) = patch {
        map.retain(|k, _| !k.starts_with("$setElementOrder/"));
        map.values_mut().for_each(strip_element_order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7386_examples() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": ["b"]});
        merge_patch(&mut t, &json!({"a": "c"}));
        assert_eq!(t, json!({"a": "c"}));
        let mut t = json!({"e": null});
        merge_patch(&mut t, &json!({"a": 1}));
        assert_eq!(t, json!({"e": null, "a": 1}));
        let mut t = json!([1, 2]);
        merge_patch(&mut t, &json!({"a": {"bb": {"ccc": null}}}));
        assert_eq!(t, json!({"a": {"bb": {}}}));
    }

    #[test]
    fn element_order_directives_are_dropped() {
        let mut p = json!({"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "a", "image": "b"}]}});
        strip_element_order(&mut p);
        assert_eq!(
            p,
            json!({"spec": {"containers": [{"name": "a", "image": "b"}]}})
        );
    }
}
