//! The one first-fit packer: tasks onto the room free on hosts, all resources at once.
//!
//! Scale-out ([`crate::plan_scale_out`]) packs the tasks that wait onto the room free on the
//! counted hosts, then onto new hosts; consolidation ([`crate::plan_scale_in`]) re-places the
//! tasks of the hosts it removes onto the room left on the hosts that stay. Both go through
//! `Packer`, so a task fits in one place by one rule: CPU, memory and GPUs at least its
//! need, one ENI slot for an `awsvpc` task (when the limit is known), and none of its static
//! ports (TCP or UDP) taken on that host.
//!
//! **First fit in O(log B).** The rooms are the leaves of a tournament tree whose every node
//! keeps the largest free CPU, memory, GPUs and ENI slots below it, and which of the static
//! ports of the tasks to place are free on some room below it. The first room that fits is
//! found by descending into the leftmost child whose summary covers the need: a subtree
//! whose maximum of some resource is short, or where one of the task's ports is taken on
//! every room, cannot hold the task and is skipped whole. When the maxima of a subtree are
//! reached by different rooms (one has the CPU, another the memory) the descent backtracks,
//! so the worst case of one search is O(B); with the few shapes of a real cluster it visits
//! O(log B) nodes. Taking or giving back a task updates one leaf-to-root path: O(log B).

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::capacity::{ResourceSlots, TakenPorts};
use crate::{HostRoom, Resources, TaskShape, WorstCase};

/// A host's free room while packing: [`HostRoom`], the one type for a counted host as read
/// and for a new one.
pub(crate) type Room = HostRoom;

impl HostRoom {
    /// Whether one task of `shape` fits here, all resources at once.
    pub(crate) fn fits(&self, shape: &TaskShape) -> bool {
        self.cpu >= shape.cpu
            && self.memory_mib >= shape.memory_mib
            && self.gpus >= shape.gpus
            && (!shape.awsvpc || self.free_eni_slots.is_none_or(|free| free >= 1))
            && !self.ports_tcp[..].any_taken(&shape.ports_tcp)
            && !self.ports_udp[..].any_taken(&shape.ports_udp)
    }

    /// Places one task of `shape`; the caller has checked [`HostRoom::fits`].
    pub(crate) fn take(&mut self, shape: &TaskShape) {
        self.cpu = self.cpu.saturating_sub(shape.cpu);
        self.memory_mib = self.memory_mib.saturating_sub(shape.memory_mib);
        self.gpus = self.gpus.saturating_sub(shape.gpus);
        if shape.awsvpc {
            self.free_eni_slots = self.free_eni_slots.map(|free| free.saturating_sub(1));
        }
        insert_all(&mut self.ports_tcp, &shape.ports_tcp);
        insert_all(&mut self.ports_udp, &shape.ports_udp);
    }

    /// Undoes [`HostRoom::take`] of the same shape (its ports were free before, so they are
    /// free again).
    pub(crate) fn give(&mut self, shape: &TaskShape) {
        self.cpu = self.cpu.saturating_add(shape.cpu);
        self.memory_mib = self.memory_mib.saturating_add(shape.memory_mib);
        self.gpus = self.gpus.saturating_add(shape.gpus);
        if shape.awsvpc {
            self.free_eni_slots = self.free_eni_slots.map(|free| free.saturating_add(1));
        }
        self.ports_tcp.retain(|p| !shape.ports_tcp.contains(p));
        self.ports_udp.retain(|p| !shape.ports_udp.contains(p));
    }

    /// Worst-case tasks that still fit here.
    pub(crate) fn worst_case_slots(&self, worst: &WorstCase) -> u32 {
        ResourceSlots::of_parts(
            [self.cpu, self.memory_mib, self.gpus],
            (&self.ports_tcp[..], &self.ports_udp[..]),
            self.free_eni_slots,
            worst,
        )
        .binding()
        .map_or(0, |(slots, _)| slots)
    }
}

/// Adds `ports` to the ascending list `taken`.
fn insert_all(taken: &mut Vec<u16>, ports: &BTreeSet<u16>) {
    for port in ports {
        if let Err(at) = taken.binary_search(port) {
            taken.insert(at, *port);
        }
    }
}

/// Points of the (free CPU, free memory) frontier a node keeps.
const FRONTIER: usize = 4;

/// What a tree node knows of the rooms below it: the Pareto frontier of their (free CPU,
/// free memory) — at most [`FRONTIER`] points, the rest folded into one point that covers
/// them —, the most free GPUs and ENI slots (unknown ENI limit: unbounded), and which of the
/// watched static ports are free on at least one of them. A task no point covers fits on
/// none of the rooms. Per resource maxima alone would mislead when one room has the CPU and
/// another the memory (CPU-rich and memory-rich instance types side by side), and a search
/// for a task that fits nowhere would then visit the whole tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Summary {
    /// (CPU, memory), CPU descending and memory ascending; the first `len` are used.
    frontier: [[u32; 2]; FRONTIER],
    len: u8,
    gpus: u32,
    eni: u32,
    free_ports: u64,
}

impl Summary {
    fn merge(a: &Summary, b: &Summary) -> Summary {
        let mut out = Summary {
            gpus: a.gpus.max(b.gpus),
            eni: a.eni.max(b.eni),
            free_ports: a.free_ports | b.free_ports,
            ..Summary::default()
        };
        // Both frontiers are sorted by CPU descending: merge them in that order, keeping a
        // point only when it has more memory than every point before it.
        let (xs, ys) = (
            &a.frontier[..usize::from(a.len)],
            &b.frontier[..usize::from(b.len)],
        );
        let (mut i, mut j, mut len) = (0, 0, 0usize);
        while i < xs.len() || j < ys.len() {
            let p = match (xs.get(i), ys.get(j)) {
                (Some(x), Some(y)) if (x[0], x[1]) >= (y[0], y[1]) => {
                    i += 1;
                    *x
                }
                (_, Some(y)) => {
                    j += 1;
                    *y
                }
                (Some(x), None) => {
                    i += 1;
                    *x
                }
                (None, None) => break,
            };
            if len > 0 && out.frontier[len - 1][1] >= p[1] {
                continue;
            }
            if len == FRONTIER {
                // Fold the rest into the last point: as much CPU as it has (the most of the
                // rest), as much memory as the rest's most. Never prunes a room that fits.
                out.frontier[FRONTIER - 1][1] = p[1];
                continue;
            }
            out.frontier[len] = p;
            len += 1;
        }
        out.len = len as u8;
        out
    }

    fn covers(&self, need: &Summary) -> bool {
        let [cpu, mem] = need.frontier[0];
        self.gpus >= need.gpus
            && self.eni >= need.eni
            && self.free_ports & need.free_ports == need.free_ports
            && self.frontier[..usize::from(self.len)]
                .iter()
                .any(|p| p[0] >= cpu && p[1] >= mem)
    }
}

/// Up to 64 static ports (TCP and UDP) the tree tracks per subtree, so that a task with a
/// static port skips whole subtrees where it is taken on every host; ports beyond the 64th
/// are still checked on each host, only not pruned on.
#[derive(Debug, Clone, Default)]
struct WatchedPorts {
    tcp: Vec<u16>,
    udp: Vec<u16>,
}

impl WatchedPorts {
    fn of<'a>(shapes: impl IntoIterator<Item = &'a TaskShape>) -> WatchedPorts {
        let (mut tcp, mut udp) = (BTreeSet::new(), BTreeSet::new());
        for shape in shapes {
            tcp.extend(shape.ports_tcp.iter().copied());
            udp.extend(shape.ports_udp.iter().copied());
        }
        let tcp: Vec<u16> = tcp.into_iter().take(64).collect();
        let udp: Vec<u16> = udp.into_iter().take(64 - tcp.len()).collect();
        WatchedPorts { tcp, udp }
    }

    /// Bit per watched port: set when `port_set(port)` holds.
    fn mask(&self, tcp: impl Fn(&u16) -> bool, udp: impl Fn(&u16) -> bool) -> u64 {
        let mut mask = 0u64;
        for (bit, _) in self.tcp.iter().enumerate().filter(|(_, p)| tcp(p)) {
            mask |= 1 << bit;
        }
        let offset = self.tcp.len();
        for (bit, _) in self.udp.iter().enumerate().filter(|(_, p)| udp(p)) {
            mask |= 1 << (offset + bit);
        }
        mask
    }

    fn room(&self, room: &HostRoom) -> Summary {
        let mut frontier = [[0; 2]; FRONTIER];
        frontier[0] = [room.cpu, room.memory_mib];
        Summary {
            frontier,
            len: 1,
            gpus: room.gpus,
            eni: room.free_eni_slots.unwrap_or(u32::MAX),
            free_ports: self.mask(
                |p| room.ports_tcp.binary_search(p).is_err(),
                |p| room.ports_udp.binary_search(p).is_err(),
            ),
        }
    }

    fn need(&self, shape: &TaskShape) -> Summary {
        let mut frontier = [[0; 2]; FRONTIER];
        frontier[0] = [shape.cpu, shape.memory_mib];
        Summary {
            frontier,
            len: 1,
            gpus: shape.gpus,
            eni: u32::from(shape.awsvpc),
            free_ports: self.mask(
                |p| shape.ports_tcp.contains(p),
                |p| shape.ports_udp.contains(p),
            ),
        }
    }
}

/// The size order of first-fit decreasing: the largest share of the host's CPU, memory or
/// GPUs first (in parts per million of `host`), then more static ports, then `awsvpc`.
pub(crate) fn size_key(shape: &TaskShape, host: &Resources) -> (u64, usize, bool) {
    let share = |need: u32, have: u32| {
        if have == 0 {
            if need == 0 { 0 } else { u64::MAX }
        } else {
            u64::from(need) * 1_000_000 / u64::from(have)
        }
    };
    let dominant = share(shape.cpu, host.cpu)
        .max(share(shape.memory_mib, host.memory_mib))
        .max(share(shape.gpus, host.gpus));
    (
        dominant,
        shape.ports_tcp.len() + shape.ports_udp.len(),
        shape.awsvpc,
    )
}

/// Rooms in a fixed order, first fit over them, with the worst-case slots they have left.
///
/// A room can be *closed* (a host that is leaving, or that the task's own host must not
/// receive): it takes nothing and its slots are not counted in [`Packer::free_slots`].
#[derive(Debug, Clone)]
pub(crate) struct Packer<'w> {
    /// Borrowed from the reading until a task is placed on them (copied on first write).
    rooms: Vec<Cow<'w, Room>>,
    open: Vec<bool>,
    slots: Vec<u32>,
    /// Σ slots over the open rooms.
    free_slots: u64,
    /// Leaves start at `leaves`; node `n` has children `2n` and `2n + 1`; node 0 is unused.
    leaves: usize,
    tree: Vec<Summary>,
    watched: WatchedPorts,
    worst: &'w WorstCase,
}

impl<'w> Packer<'w> {
    /// Every room open, in the given order, no port watched. O(B).
    #[cfg(test)]
    pub(crate) fn new(rooms: Vec<Room>, worst: &'w WorstCase) -> Packer<'w> {
        Packer::watching(rooms.into_iter().map(Cow::Owned), worst, [])
    }

    /// [`Packer::new`], the tree also tracking the static ports of `shapes` (the tasks to
    /// be placed), so that a task with a static port skips subtrees where it is taken
    /// everywhere. O(B·P) for P watched ports.
    pub(crate) fn watching<'s>(
        rooms: impl IntoIterator<Item = Cow<'w, Room>>,
        worst: &'w WorstCase,
        shapes: impl IntoIterator<Item = &'s TaskShape>,
    ) -> Packer<'w> {
        let rooms: Vec<Cow<'w, Room>> = rooms.into_iter().collect();
        let slots: Vec<u32> = rooms.iter().map(|r| r.worst_case_slots(worst)).collect();
        let mut packer = Packer {
            open: vec![true; rooms.len()],
            free_slots: slots.iter().map(|s| u64::from(*s)).sum(),
            slots,
            rooms,
            leaves: 0,
            tree: Vec::new(),
            watched: WatchedPorts::of(shapes),
            worst,
        };
        packer.rebuild();
        packer
    }

    fn rebuild(&mut self) {
        self.leaves = self.rooms.len().next_power_of_two().max(1);
        self.tree = vec![Summary::default(); 2 * self.leaves];
        for (i, room) in self.rooms.iter().enumerate() {
            if self.open[i] {
                self.tree[self.leaves + i] = self.watched.room(room);
            }
        }
        for node in (1..self.leaves).rev() {
            self.tree[node] = Summary::merge(&self.tree[2 * node], &self.tree[2 * node + 1]);
        }
    }

    fn refresh(&mut self, i: usize) {
        let mut node = self.leaves + i;
        self.tree[node] = if self.open[i] {
            self.watched.room(&self.rooms[i])
        } else {
            Summary::default()
        };
        while node > 1 {
            node /= 2;
            let merged = Summary::merge(&self.tree[2 * node], &self.tree[2 * node + 1]);
            if self.tree[node] == merged {
                // Nothing above changes either.
                break;
            }
            self.tree[node] = merged;
        }
    }

    /// Adds a room at the end (a new host). Amortised O(log B): the tree doubles when full.
    pub(crate) fn push(&mut self, room: Room) -> usize {
        let i = self.rooms.len();
        let slots = room.worst_case_slots(self.worst);
        self.free_slots += u64::from(slots);
        self.slots.push(slots);
        self.rooms.push(Cow::Owned(room));
        self.open.push(true);
        if self.rooms.len() > self.leaves {
            self.rebuild();
        } else {
            self.refresh(i);
        }
        i
    }

    pub(crate) fn len(&self) -> usize {
        self.rooms.len()
    }

    #[cfg(test)]
    pub(crate) fn room(&self, i: usize) -> Option<&Room> {
        self.room_at(i)
    }

    /// Room `i` as it is now.
    pub(crate) fn room_at(&self, i: usize) -> Option<&Room> {
        self.rooms.get(i).map(|r| &**r)
    }

    /// Worst-case tasks that still fit on the open rooms.
    pub(crate) fn free_slots(&self) -> u64 {
        self.free_slots
    }

    /// Whether room `i` takes tasks.
    pub(crate) fn is_open(&self, i: usize) -> bool {
        self.open.get(i).copied().unwrap_or(false)
    }

    /// Opens or closes room `i`.
    pub(crate) fn set_open(&mut self, i: usize, open: bool) {
        if i >= self.rooms.len() || self.open[i] == open {
            return;
        }
        self.open[i] = open;
        if open {
            self.free_slots += u64::from(self.slots[i]);
        } else {
            self.free_slots -= u64::from(self.slots[i]);
        }
        self.refresh(i);
    }

    /// The first open room, in order, that `shape` fits on.
    pub(crate) fn first_fit(&self, shape: &TaskShape) -> Option<usize> {
        if self.rooms.is_empty() {
            return None;
        }
        self.find(1, 0, self.leaves, shape, &self.watched.need(shape))
    }

    fn find(
        &self,
        node: usize,
        lo: usize,
        hi: usize,
        shape: &TaskShape,
        need: &Summary,
    ) -> Option<usize> {
        if lo >= self.rooms.len() || !self.tree[node].covers(need) {
            return None;
        }
        if hi - lo == 1 {
            return (self.open[lo] && self.rooms[lo].fits(shape)).then_some(lo);
        }
        let mid = lo + (hi - lo) / 2;
        self.find(2 * node, lo, mid, shape, need)
            .or_else(|| self.find(2 * node + 1, mid, hi, shape, need))
    }

    /// The first open room of `range`, in order, that `shape` fits on and `accept` takes:
    /// [`Packer::first_fit`] restricted to a run of rooms (the rooms of one Availability Zone,
    /// kept together) and to rooms a placement constraint allows. Subtrees outside the range
    /// are skipped whole; a room `accept` refuses sends the search on to the next one.
    pub(crate) fn first_fit_where(
        &self,
        range: std::ops::Range<usize>,
        shape: &TaskShape,
        accept: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        if self.rooms.is_empty() {
            return None;
        }
        let need = self.watched.need(shape);
        self.find_where(1, 0, self.leaves, &range, shape, &need, accept)
    }

    #[allow(clippy::too_many_arguments)]
    fn find_where(
        &self,
        node: usize,
        lo: usize,
        hi: usize,
        range: &std::ops::Range<usize>,
        shape: &TaskShape,
        need: &Summary,
        accept: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        if lo >= self.rooms.len()
            || hi <= range.start
            || lo >= range.end
            || !self.tree[node].covers(need)
        {
            return None;
        }
        if hi - lo == 1 {
            return (self.open[lo] && self.rooms[lo].fits(shape) && accept(lo)).then_some(lo);
        }
        let mid = lo + (hi - lo) / 2;
        self.find_where(2 * node, lo, mid, range, shape, need, accept)
            .or_else(|| self.find_where(2 * node + 1, mid, hi, range, shape, need, accept))
    }

    /// Places one task of `shape` on room `i` (which it fits).
    pub(crate) fn take(&mut self, i: usize, shape: &TaskShape) {
        self.rooms[i].to_mut().take(shape);
        self.resum(i);
    }

    /// Gives back one task of `shape` placed on room `i` by [`Packer::take`].
    pub(crate) fn give(&mut self, i: usize, shape: &TaskShape) {
        self.rooms[i].to_mut().give(shape);
        self.resum(i);
    }

    fn resum(&mut self, i: usize) {
        let slots = self.rooms[i].worst_case_slots(self.worst);
        if self.open[i] {
            self.free_slots = self.free_slots - u64::from(self.slots[i]) + u64::from(slots);
        }
        self.slots[i] = slots;
        self.refresh(i);
    }

    /// Places one task of `shape` on the first open room it fits; its index, or `None`.
    pub(crate) fn place(&mut self, shape: &TaskShape) -> Option<usize> {
        let i = self.first_fit(shape)?;
        self.take(i, shape);
        Some(i)
    }
}

/// Sorts `(shape, count)` for first-fit decreasing against the size of `host` (largest
/// dominant share first; stable, so equal shapes keep their order).
pub(crate) fn sort_decreasing<T>(items: &mut [(&TaskShape, T)], host: &Resources) {
    items.sort_by_key(|(shape, _)| std::cmp::Reverse(size_key(shape, host)));
}

#[cfg(test)]
mod tests;
