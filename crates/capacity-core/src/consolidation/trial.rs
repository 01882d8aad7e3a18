//! The trial placement: the room left on the hosts that stay, and where every task that moves
//! goes. One [`Trial`] per plan: the tasks already moving are placed first
//! ([`Trial::place_moving`]), then each candidate is tried ([`Trial::try_host`]) and either
//! kept ([`Trial::commit`]) or undone ([`Trial::undo`]).

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::{ClusterHost, Placement, Removal, ScaleInInput, Unconsolidatable};
use crate::packing::{Packer, size_key, sort_decreasing};
use crate::{HostRoom, InstanceStatus, Resources, TaskShape};

/// A task to place, with where it comes from.
#[derive(Clone, Copy)]
pub(super) struct Moving<'a> {
    shape: &'a TaskShape,
    /// Host index, or `None` for a waiting task (then `service` names it).
    from: Option<usize>,
    service: &'a str,
}

impl<'a> Moving<'a> {
    fn from_host(shape: &'a TaskShape, host: usize) -> Moving<'a> {
        Moving {
            shape,
            from: Some(host),
            service: "",
        }
    }
}

/// A tried candidate whose tasks all found room: commit it or undo it.
pub(super) struct Attempt<'a> {
    room: usize,
    tasks: u32,
    /// Where each moved task went, in the order placed.
    log: Vec<(usize, Moving<'a>)>,
}

/// The packing state of one plan.
pub(super) struct Trial<'a> {
    hosts: &'a [ClusterHost],
    /// Host index → its room in the packer (only hosts that accept tasks have one).
    room_of: Vec<Option<usize>>,
    packer: Packer<'a>,
    /// What has been moved onto each room, so it moves on if that host goes too.
    moved_in: Vec<Vec<Moving<'a>>>,
    /// Per resource the most any host registers: the size tasks are ordered against.
    size: Resources,
}

impl<'a> Trial<'a> {
    /// The room of every host that accepts tasks, in the group's order, watched for the ports
    /// of every task that may move.
    pub(super) fn new(input: &ScaleInInput<'a>) -> Trial<'a> {
        let hosts = input.hosts;
        let mut room_of = vec![None; hosts.len()];
        let mut rooms = Vec::new();
        for (i, h) in hosts.iter().enumerate() {
            if h.instance.accepts_tasks() {
                room_of[i] = Some(rooms.len());
                rooms.push(HostRoom::of(i, &h.instance));
            }
        }
        let packer = Packer::watching(
            rooms.into_iter().map(Cow::Owned),
            input.worst_case,
            hosts
                .iter()
                .flat_map(|h| &h.tasks)
                .chain(input.waiting.iter().map(|u| &u.shape)),
        );
        let moved_in = vec![Vec::new(); packer.len()];
        Trial {
            hosts,
            room_of,
            packer,
            moved_in,
            size: largest_registered(hosts),
        }
    }

    /// Places the tasks already moving — the tasks that wait, and the tasks of the DRAINING
    /// hosts (ECS re-places them) — first-fit decreasing; returns how many fit nowhere.
    pub(super) fn place_moving(&mut self, input: &ScaleInInput<'a>) -> u64 {
        let mut must: Vec<(&TaskShape, Moving<'a>)> = Vec::new();
        for u in input.waiting {
            let m = Moving {
                shape: &u.shape,
                from: None,
                service: &u.service,
            };
            must.extend(std::iter::repeat_n((&u.shape, m), u.count as usize));
        }
        for (i, h) in self.hosts.iter().enumerate() {
            if h.instance.status == InstanceStatus::Draining {
                must.extend(h.tasks.iter().map(|t| (t, Moving::from_host(t, i))));
            }
        }
        sort_decreasing(&mut must, &self.size);
        let mut short = 0u64;
        for (shape, m) in must {
            match self.packer.place(shape) {
                Some(r) => self.moved_in[r].push(m),
                None => short += 1,
            }
        }
        short
    }

    /// Worst-case tasks free on the open rooms.
    pub(super) fn free_slots(&self) -> u64 {
        self.packer.free_slots()
    }

    /// Tasks to move if host `i` went: its own, and those moved onto it.
    pub(super) fn tasks_to_move(&self, i: usize) -> u64 {
        let moved = self.room_of[i].map_or(0, |r| self.moved_in[r].len());
        (self.hosts[i].tasks.len() + moved) as u64
    }

    /// Closes host `i`'s room when it is empty with nothing moved onto it and the hosts that
    /// stay keep `headroom` free without it: the O(1) check for hosts beyond the budget.
    /// Returns the room closed, or `None` (the room is left as it was).
    pub(super) fn close_if_empty(&mut self, i: usize, headroom: u64) -> Option<usize> {
        let r = self.room_of[i]?;
        if !self.hosts[i].tasks.is_empty() || !self.moved_in[r].is_empty() {
            return None;
        }
        self.packer.set_open(r, false);
        if self.packer.free_slots() >= headroom {
            Some(r)
        } else {
            self.packer.set_open(r, true);
            None
        }
    }

    /// Opens rooms closed by [`Trial::close_if_empty`] again.
    pub(super) fn reopen(&mut self, rooms: impl IntoIterator<Item = usize>) {
        for r in rooms {
            self.packer.set_open(r, true);
        }
    }

    /// Tries to remove host `i`: closes its room and moves every task on it (its own and those
    /// moved onto it) first-fit decreasing onto the rooms left; the hosts that stay must then
    /// keep `keep_free` worst-case tasks free (`headroom` only when nothing moves: an empty
    /// host leaves as the book's scale-in removes one). On failure the trial is already
    /// undone.
    pub(super) fn try_host(
        &mut self,
        i: usize,
        headroom: u64,
        keep_free: u64,
    ) -> Result<Attempt<'a>, Unconsolidatable> {
        // Every candidate accepts tasks, so it has a room.
        let Some(r) = self.room_of[i] else {
            return Err(Unconsolidatable::AgentDisconnected);
        };
        self.packer.set_open(r, false);
        let mut moving: Vec<(&TaskShape, Moving<'a>)> = self.hosts[i]
            .tasks
            .iter()
            .map(|t| (t, Moving::from_host(t, i)))
            .chain(self.moved_in[r].iter().map(|m| (m.shape, *m)))
            .collect();
        moving.sort_by_cached_key(|(shape, _)| std::cmp::Reverse(size_key(shape, &self.size)));
        let tasks = u32::try_from(moving.len()).unwrap_or(u32::MAX);
        let mut attempt = Attempt {
            room: r,
            tasks,
            log: Vec::with_capacity(moving.len()),
        };
        for (shape, m) in &moving {
            match self.packer.place(shape) {
                Some(onto) => attempt.log.push((onto, *m)),
                None => {
                    self.undo(attempt);
                    return Err(Unconsolidatable::TasksDoNotFit {
                        tasks,
                        shape: shape.name.clone(),
                    });
                }
            }
        }
        let keep_free = if tasks == 0 { headroom } else { keep_free };
        if self.packer.free_slots() < keep_free {
            let left = self.packer.free_slots();
            self.undo(attempt);
            return Err(Unconsolidatable::WouldBreakHeadroom {
                left,
                headroom: u32::try_from(keep_free).unwrap_or(u32::MAX),
            });
        }
        Ok(attempt)
    }

    /// Gives every task of `attempt` back and opens its room again.
    pub(super) fn undo(&mut self, attempt: Attempt<'a>) {
        for (onto, m) in attempt.log.iter().rev() {
            self.packer.give(*onto, m.shape);
        }
        self.packer.set_open(attempt.room, true);
    }

    /// Keeps `attempt`: its tasks stay where they were placed (and move on with a host that
    /// goes later). Returns why the host may go.
    pub(super) fn commit(&mut self, attempt: Attempt<'a>) -> Removal {
        if attempt.tasks == 0 {
            return Removal::Empty;
        }
        self.moved_in[attempt.room].clear();
        let onto: BTreeSet<usize> = attempt.log.iter().map(|(onto, _)| *onto).collect();
        for (onto, m) in attempt.log {
            self.moved_in[onto].push(m);
        }
        Removal::TasksMove {
            tasks: attempt.tasks,
            onto: u32::try_from(onto.len()).unwrap_or(u32::MAX),
        }
    }

    /// Where every moved task goes, on the hosts that stay.
    pub(super) fn placements(&self) -> Vec<Placement> {
        let mut out = Vec::new();
        for (i, r) in self.room_of.iter().enumerate() {
            let Some(r) = *r else { continue };
            if !self.packer.is_open(r) {
                continue;
            }
            for m in &self.moved_in[r] {
                out.push(Placement {
                    shape: m.shape.name.clone(),
                    from: match m.from {
                        Some(from) => self.hosts[from].instance.id.clone(),
                        None => format!("waiting: {}", m.service),
                    },
                    onto: self.hosts[i].instance.id.clone(),
                });
            }
        }
        out
    }
}

/// Per resource the most any host registers: the size tasks are ordered against.
fn largest_registered(hosts: &[ClusterHost]) -> Resources {
    let mut out = Resources::default();
    for h in hosts {
        let r = &h.instance.registered;
        out.cpu = out.cpu.max(r.cpu);
        out.memory_mib = out.memory_mib.max(r.memory_mib);
        out.gpus = out.gpus.max(r.gpus);
    }
    out
}
