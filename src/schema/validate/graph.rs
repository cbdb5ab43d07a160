//! Rules about cycles, checked per realm over graphs of declarations:
//!
//! - a type alias may not contain itself, directly or through other
//!   aliases (`typealias A a.B` + `typealias B [a.A]`): an alias is another
//!   name for a type, so such a type never ends, and anything expanding it
//!   would not terminate. FTL does not check this; `realm` refuses it.
//! - required fields may not make a data type contain itself (`data Node {
//!   next a.Node }`): no value of it can ever be built. Optional fields,
//!   lists and maps break the cycle. `realm`'s own rule too.
//! - modules may not depend on each other in a cycle (FTL's rule: a
//!   module's dependencies are the modules its references name).
//!
//! Graphs are walked iteratively (Tarjan's strongly connected components),
//! so their size, not the stack, bounds the work.

use crate::rules;
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

use super::{Site, Validator, fmt_pos, head_len};
use crate::schema::model::*;

impl<'a> Validator<'a> {
    pub(super) fn check_graphs(&mut self, realm: &'a Realm) {
        self.check_alias_cycles(realm);
        self.check_required_cycles(realm);
        self.check_module_cycles(realm);
    }

    fn check_alias_cycles(&mut self, realm: &'a Realm) {
        let aliases: Vec<Site<'a>> = declarations(realm)
            .filter(|site| matches!(site.decl, Some(Decl::TypeAlias(_))))
            .collect();
        let index: HashMap<*const Decl, usize> = aliases
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.decl.map(|d| (d as *const Decl, i)))
            .collect();
        let edges: Vec<Vec<usize>> = aliases
            .iter()
            .map(|site| {
                let mut out = Vec::new();
                if let Some(Decl::TypeAlias(alias)) = site.decl {
                    alias.ty.walk(&mut |t| {
                        if let Type::Ref(r) = t
                            && let Some(target) = self.lookup(site, r, None)
                            && let Some(&j) = index.get(&(target.decl as *const Decl))
                        {
                            out.push(j);
                        }
                    });
                }
                out
            })
            .collect();
        for cycle in cycles(&edges) {
            let names: Vec<String> = cycle.iter().map(|&i| aliases[i].decl_name()).collect();
            let first = &aliases[cycle[0]];
            let Some(decl) = first.decl else { continue };
            let path = format!("{} -> {}", names.join(" -> "), names[0]);
            let message = if cycle.len() == 1 {
                format!("type alias `{}` refers to itself", names[0])
            } else {
                format!("type alias `{}` refers to itself through {path}", names[0])
            };
            let d = self
                .at(decl.pos(), first, message)
                .with_len(head_len(decl))
                .with_label(path)
                .with_help("an alias is another name for a type and cannot contain itself; build recursive types with data (`data Tree { children [a.Tree] }`)");
            self.report(d.or_code(rules::CYCLE));
        }
    }

    fn check_required_cycles(&mut self, realm: &'a Realm) {
        let data: Vec<Site<'a>> = declarations(realm)
            .filter(|site| matches!(site.decl, Some(Decl::Data(_))))
            .collect();
        // By address (a number, so that the threads below may share it).
        let index: HashMap<usize, usize> = data
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.decl.map(|d| (address(d), i)))
            .collect();
        // For each data type, the data types its required fields hold, with
        // the field that holds each: on every core (the other checks of the
        // realm run beside this one and may end first).
        let this = &*self;
        let (edges, fields): (Vec<Vec<usize>>, Vec<HashMap<usize, &'a Field>>) = data
            .par_iter()
            .map(|site| {
                let mut out = Vec::new();
                let mut by_target = HashMap::default();
                if let Some(Decl::Data(d)) = site.decl {
                    for field in &d.fields {
                        let mut targets = Vec::new();
                        this.required_data(*site, &field.ty, &index, 0, &mut targets);
                        for j in targets {
                            if !by_target.contains_key(&j) {
                                out.push(j);
                            }
                            by_target.entry(j).or_insert(field);
                        }
                    }
                }
                (out, by_target)
            })
            .unzip();
        for cycle in cycles(&edges) {
            let mut steps = Vec::new();
            for (k, &i) in cycle.iter().enumerate() {
                let next = cycle[(k + 1) % cycle.len()];
                let field = fields[i].get(&next).map_or("?", |f| f.name.as_str());
                steps.push(format!(
                    "{}.{field} -> {}",
                    data[i].decl_name(),
                    data[next].decl_name()
                ));
            }
            let first = &data[cycle[0]];
            let Some(field) = fields[cycle[0]].get(&cycle[1 % cycle.len()]).copied() else {
                continue;
            };
            let d = self
                .at(
                    field.pos.as_ref(),
                    first,
                    format!(
                        "data `{}` contains itself through required fields: {}",
                        first.decl_name(),
                        steps.join(", ")
                    ),
                )
                .with_len(field.name.len())
                .with_help(format!(
                    "no value of it can ever be built; make a field of the cycle optional (`{} {}?`), a list or a map",
                    field.name, field.ty
                ));
            self.report(d.or_code(rules::CYCLE));
        }
    }

    /// The data types (their indexes) a required field of type `ty` holds,
    /// with type aliases followed: the data type it names, and what the
    /// type arguments stand for in that type's own required fields
    /// (`b a.Box<a.N>` holds an `a.N` when `Box<T>` has `v T`). Nothing
    /// for a field that is optional, a list, a map or a scalar. `depth`
    /// bounds the walk through type arguments.
    fn required_data(
        &self,
        site: Site<'a>,
        ty: &'a Type,
        index: &HashMap<usize, usize>,
        depth: usize,
        out: &mut Vec<usize>,
    ) {
        let (site, ty) = self.unalias(site, ty);
        let Type::Ref(r) = ty else { return };
        let Some(target) = self.lookup(&site, r, None) else {
            return;
        };
        if !std::ptr::eq(target.realm, site.realm) {
            return;
        }
        let Some(&j) = index.get(&address(target.decl)) else {
            return;
        };
        out.push(j);
        let Decl::Data(data) = target.decl else {
            return;
        };
        if r.type_args.is_empty() || depth >= MAX_TYPE_DEPTH {
            return;
        }
        for field in &data.fields {
            let Type::Ref(p) = &field.ty else { continue };
            if p.module.is_some() || !p.type_args.is_empty() {
                continue;
            }
            let Some(k) = data.type_params.iter().position(|t| t.name == p.name) else {
                continue;
            };
            if let Some(arg) = r.type_args.get(k) {
                self.required_data(site, arg, index, depth + 1, out);
            }
        }
    }

    fn check_module_cycles(&mut self, realm: &'a Realm) {
        let modules: Vec<&'a Module> = realm
            .modules
            .iter()
            .filter(|m| m.name != "builtin")
            .collect();
        let index: HashMap<&str, usize> = modules
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.as_str(), i))
            .collect();
        // For each module, the modules it names, with the first reference
        // (on every core).
        let (edges, firsts): (Vec<Vec<usize>>, Vec<HashMap<usize, &'a Ref>>) = modules
            .par_iter()
            .enumerate()
            .map(|(i, module)| {
                let mut out = Vec::new();
                let mut first: HashMap<usize, &'a Ref> = HashMap::default();
                let mut note = |r: &'a Ref| {
                    if r.realm.is_some() {
                        return;
                    }
                    if let Some(&j) = r.module.as_deref().and_then(|m| index.get(m))
                        && j != i
                        && !first.contains_key(&j)
                    {
                        first.insert(j, r);
                        out.push(j);
                    }
                };
                for decl in &module.decls {
                    decl.for_each_type(&mut |t| {
                        if let Type::Ref(r) = t {
                            note(r);
                        }
                    });
                    decl.for_each_metadata_ref(&mut note);
                }
                for m in &module.metadata {
                    m.kind.for_each_ref(&mut note);
                }
                (out, first)
            })
            .unzip();
        for cycle in cycles(&edges) {
            let mut names: Vec<&str> = cycle.iter().map(|&i| modules[i].name.as_str()).collect();
            names.push(names[0]);
            let from = cycle[0];
            let to = cycle[1 % cycle.len()];
            let site = Site {
                realm,
                module: modules[from],
                decl: None,
                type_params: &[],
            };
            let r = firsts[from].get(&to).copied();
            let pos = r
                .and_then(|r| r.pos.as_ref())
                .or(modules[from].pos.as_ref());
            let d = self
                .at(
                    pos,
                    &site,
                    format!("found cycle in dependencies: {}", names.join(" -> ")),
                )
                .with_len(r.map_or(1, super::ref_len))
                .with_help(format!(
                    "FTL refuses modules that depend on each other; move what both use into a module of its own (module `{}` is declared{})",
                    modules[to].name,
                    fmt_pos(modules[to].pos.as_ref())
                ));
            self.report(d.or_code(rules::CYCLE));
        }
    }
}

/// Every declaration of a realm outside the builtin module, as a site.
fn declarations<'a>(realm: &'a Realm) -> impl Iterator<Item = Site<'a>> {
    realm
        .modules
        .iter()
        .filter(|m| m.name != "builtin")
        .flat_map(move |m| m.decls.iter().map(move |d| Site::of(realm, m, d)))
}

/// One cycle per strongly connected component of the graph that has one:
/// the nodes of a cycle through the component's first node, in order.
/// Iterative Tarjan, then a breadth-first search inside the component.
pub(super) fn cycles(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut component = vec![usize::MAX; n];
    let mut components: Vec<Vec<usize>> = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, next edge to look at)
        let mut calls = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut e)) = calls.last_mut() {
            if let Some(&w) = edges[v].get(*e) {
                *e += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut members = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component[w] = components.len();
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                members.sort_unstable();
                components.push(members);
            }
        }
    }
    let mut out = Vec::new();
    for (c, members) in components.iter().enumerate() {
        let start = members[0];
        let cyclic = members.len() > 1 || edges[start].contains(&start);
        if !cyclic {
            continue;
        }
        // Shortest way from `start` back to itself inside the component.
        let mut previous = vec![usize::MAX; n];
        let mut queue = std::collections::VecDeque::from([start]);
        let mut closing = None;
        'search: while let Some(v) = queue.pop_front() {
            for &w in &edges[v] {
                if component[w] != c {
                    continue;
                }
                if w == start {
                    closing = Some(v);
                    break 'search;
                }
                if previous[w] == usize::MAX {
                    previous[w] = v;
                    queue.push_back(w);
                }
            }
        }
        let Some(mut v) = closing else { continue };
        let mut path = vec![v];
        while v != start {
            v = previous[v];
            path.push(v);
        }
        path.reverse();
        out.push(path);
    }
    out.sort();
    out
}

/// A declaration's address, which tells it from every other one.
fn address(decl: &Decl) -> usize {
    decl as *const Decl as usize
}

#[cfg(test)]
mod tests {
    use super::cycles;

    #[test]
    fn finds_one_cycle_per_component() {
        // 0 -> 1 -> 2 -> 0, 3 -> 3, 4 -> 5 (no cycle)
        let edges = vec![vec![1], vec![2], vec![0], vec![3], vec![5], vec![]];
        assert_eq!(cycles(&edges), vec![vec![0, 1, 2], vec![3]]);
    }

    #[test]
    fn a_long_chain_does_not_use_the_stack() {
        let n = 200_000;
        let mut edges: Vec<Vec<usize>> = (0..n).map(|i| vec![i + 1]).collect();
        edges[n - 1] = vec![0];
        let found = cycles(&edges);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].len(), n);
    }
}
