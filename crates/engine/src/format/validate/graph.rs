//! The stage graph: cycles (each reported once, as a path) and a
//! deterministic topological order that keeps the file's order where the
//! edges allow.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

/// For each stage (by declaration index), the stages its inputs name, with
/// where each reference was written.
pub type Edges<P> = Vec<Vec<(usize, P)>>;

/// Every cycle as a path of stage indices starting and ending at the same
/// stage (`[a, b, a]`), each with the place of the reference of its first
/// step. Self-references are cycles of one step.
pub fn cycles<P: Clone>(edges: &Edges<P>) -> Vec<(Vec<usize>, P)> {
    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(edges.len(), 0);
    let nodes: Vec<NodeIndex> = (0..edges.len()).map(|i| graph.add_node(i)).collect();
    for (user, ups) in edges.iter().enumerate() {
        for (up, _) in ups {
            graph.add_edge(nodes[user], nodes[*up], ());
        }
    }
    let mut found = Vec::new();
    for scc in tarjan_scc(&graph) {
        let members: Vec<usize> = scc.iter().map(|n| graph[*n]).collect();
        let Some(&start) = members.iter().min() else {
            continue;
        };
        let self_loop = edges[start].iter().any(|(up, _)| *up == start);
        if members.len() == 1 && !self_loop {
            continue;
        }
        let path = if self_loop {
            vec![start, start]
        } else {
            path_back(edges, &members, start)
        };
        let next = path[1];
        let Some((_, pos)) = edges[start].iter().find(|(up, _)| *up == next) else {
            continue;
        };
        found.push((path, pos.clone()));
    }
    found.sort_by_key(|(path, _)| path[0]);
    found
}

/// The shortest path inside one strongly connected component from `start`
/// back to `start` (breadth-first, neighbours in written order).
fn path_back<P>(edges: &Edges<P>, members: &[usize], start: usize) -> Vec<usize> {
    let mut parent: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    // A set: `members.contains` made a cycle of n stages cost O(n^2).
    let members: std::collections::HashSet<usize> = members.iter().copied().collect();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        for (up, _) in &edges[at] {
            if !members.contains(up) {
                continue;
            }
            if *up == start {
                let mut path = vec![start, at];
                let mut cur = at;
                // Every node reached has a parent chain back to `start`.
                while let Some(&up) = parent.get(&cur).filter(|_| cur != start) {
                    cur = up;
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if !parent.contains_key(up) {
                parent.insert(*up, at);
                queue.push_back(*up);
            }
        }
    }
    vec![start, start]
}

/// A topological order (inputs first); among ready stages the earliest
/// declared goes first. `None` if there is a cycle.
pub fn topo_order<P>(edges: &Edges<P>) -> Option<Vec<usize>> {
    let n = edges.len();
    let mut pending: Vec<usize> = edges.iter().map(Vec::len).collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (user, ups) in edges.iter().enumerate() {
        for (up, _) in ups {
            users[*up].push(user);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|i| pending[*i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &u in &users[i] {
            pending[u] -= 1;
            if pending[u] == 0 {
                ready.push(Reverse(u));
            }
        }
    }
    (order.len() == n).then_some(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(list: &[&[usize]]) -> Edges<()> {
        list.iter()
            .map(|ups| ups.iter().map(|u| (*u, ())).collect())
            .collect()
    }

    #[test]
    fn order_puts_inputs_first_and_keeps_file_order() {
        assert_eq!(topo_order(&edges(&[&[2], &[], &[]])), Some(vec![1, 2, 0]));
        assert_eq!(
            topo_order(&edges(&[&[], &[0], &[0], &[1, 2]])),
            Some(vec![0, 1, 2, 3])
        );
    }

    #[test]
    fn cycles_are_paths() {
        let e = edges(&[&[1], &[2], &[0], &[]]);
        assert_eq!(topo_order(&e), None);
        let c = cycles(&e);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].0, vec![0, 1, 2, 0]);
        assert_eq!(cycles(&edges(&[&[0]]))[0].0, vec![0, 0]);
        assert_eq!(cycles(&edges(&[&[1], &[0], &[3], &[2]])).len(), 2);
    }
}
