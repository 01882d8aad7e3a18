//! The trial placement: the room left on the hosts that stay, and where every task that moves
//! goes. One [`Trial`] per plan: the tasks already moving are placed first
//! ([`Trial::place_moving`]), then each candidate is tried ([`Trial::try_host`]) and either
//! kept ([`Trial::commit`]) or undone ([`Trial::undo`]).
//!
//! Only what ECS moves moves: a service's tasks (daemon tasks stay and end with their host;
//! a host with a standalone task is no candidate). A moved task goes only where its service's
//! rules let ECS put it: not beside another task of its service under `distinctInstance`, only
//! on hosts its `memberOf` expressions hold for, and within its own Availability Zone when the
//! service spreads by zone (the rooms of a zone are kept together, so that search is a range
//! of the packer's tree).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use super::{
    ClusterHost, HostTask, MarginTask, Placement, Removal, ScaleInInput, Unconsolidatable,
};
use crate::packing::{Packer, size_key, sort_decreasing};
use crate::placement::{HostFacts, ServicePlacement};
use crate::{HostRoom, InstanceStatus, Resources, TaskShape};

/// A task to place, with where it comes from and what binds it.
#[derive(Clone, Copy)]
pub(super) struct Moving<'a> {
    shape: &'a TaskShape,
    /// Host index, or `None` for a waiting task (then `service` names it).
    from: Option<usize>,
    service: &'a str,
    /// Its service's rules, when it has any.
    rules: Option<&'a ServicePlacement>,
    /// The zone it must stay in (its service spreads by zone).
    zone: Option<&'a str>,
}

/// The room the hosts that stay keep beyond the headroom when tasks move: `tasks` of `of`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Margin {
    pub(super) tasks: u32,
    pub(super) of: MarginTask,
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
    rules: HashMap<&'a str, &'a ServicePlacement>,
    /// Host index → its room in the packer (only hosts that accept tasks have one).
    room_of: Vec<Option<usize>>,
    /// Room → host index.
    host_of: Vec<usize>,
    /// The rooms of each zone, kept together (hosts of no known zone last).
    zone_rooms: BTreeMap<&'a str, Range<usize>>,
    packer: Packer<'a>,
    /// What has been moved onto each room, so it moves on if that host goes too.
    moved_in: Vec<Vec<Moving<'a>>>,
    /// Tasks of each `distinctInstance` service on each room: (room, service) → count.
    distinct: HashMap<(usize, &'a str), u32>,
    /// Per resource the most any host registers: the size tasks are ordered against.
    size: Resources,
}

impl<'a> Trial<'a> {
    /// The room of every host that accepts tasks, the rooms of a zone together (in the group's
    /// order within it), watched for the ports of every task that may move.
    pub(super) fn new(input: &ScaleInInput<'a>) -> Trial<'a> {
        let hosts = input.hosts;
        let rules: HashMap<&str, &ServicePlacement> = input
            .services
            .iter()
            .map(|s| (s.service.as_str(), s))
            .collect();
        let mut order: Vec<usize> = (0..hosts.len())
            .filter(|&i| hosts[i].instance.accepts_tasks())
            .collect();
        // Stable: the group's order within a zone; hosts of no known zone after the rest.
        order.sort_by_key(|&i| (hosts[i].instance.zone().is_none(), hosts[i].instance.zone()));
        let mut room_of = vec![None; hosts.len()];
        let mut host_of = Vec::with_capacity(order.len());
        let mut zone_rooms: BTreeMap<&str, Range<usize>> = BTreeMap::new();
        let mut rooms = Vec::with_capacity(order.len());
        for (r, &i) in order.iter().enumerate() {
            room_of[i] = Some(r);
            host_of.push(i);
            if let Some(zone) = hosts[i].instance.zone() {
                zone_rooms.entry(zone).or_insert(r..r).end = r + 1;
            }
            rooms.push(HostRoom::of(i, &hosts[i].instance));
        }
        let packer = Packer::watching(
            rooms.into_iter().map(Cow::Owned),
            input.worst_case,
            hosts
                .iter()
                .flat_map(|h| h.tasks.iter().map(|t| &t.shape))
                .chain(input.waiting.iter().map(|u| &u.shape)),
        );
        let mut distinct = HashMap::new();
        for (i, h) in hosts.iter().enumerate() {
            let Some(r) = room_of[i] else { continue };
            for service in h.tasks.iter().filter_map(HostTask::service) {
                if let Some((name, _)) = rules
                    .get_key_value(service)
                    .filter(|(_, p)| p.distinct_instance())
                {
                    *distinct.entry((r, *name)).or_default() += 1;
                }
            }
        }
        let moved_in = vec![Vec::new(); packer.len()];
        Trial {
            hosts,
            rules,
            room_of,
            host_of,
            zone_rooms,
            packer,
            moved_in,
            distinct,
            size: largest_registered(hosts),
        }
    }

    /// `task` of host `from` as it moves: bound by its service's rules, kept in its zone when
    /// the service spreads by zone.
    fn moving(&self, task: &'a HostTask, from: usize) -> Moving<'a> {
        let service = task.service().unwrap_or(task.shape.name.as_str());
        let rules = self.rules.get(service).copied();
        Moving {
            shape: &task.shape,
            from: Some(from),
            service,
            rules,
            zone: rules
                .filter(|r| r.spread_by_zone)
                .and_then(|_| self.hosts[from].instance.zone()),
        }
    }

    /// Places the tasks already moving — the tasks that wait, and the tasks ECS moves off the
    /// DRAINING hosts — first-fit decreasing; returns how many fit nowhere (a task bound by a
    /// constraint the plan cannot check counts as fitting nowhere).
    pub(super) fn place_moving(&mut self, input: &ScaleInInput<'a>) -> u64 {
        let mut must: Vec<(&TaskShape, Moving<'a>)> = Vec::new();
        for u in input.waiting {
            let rules = self.rules.get(u.service.as_str()).copied();
            let m = Moving {
                shape: &u.shape,
                from: None,
                service: &u.service,
                rules,
                zone: None,
            };
            must.extend(std::iter::repeat_n((&u.shape, m), u.count as usize));
        }
        for (i, h) in self.hosts.iter().enumerate() {
            if h.instance.status == InstanceStatus::Draining {
                for t in h.moving_tasks() {
                    must.push((&t.shape, self.moving(t, i)));
                }
            }
        }
        sort_decreasing(&mut must, &self.size);
        let mut short = 0u64;
        for (_, m) in must {
            let placeable = m.rules.is_none_or(|r| r.unjudgeable().is_none());
            match placeable.then(|| self.place(&m)).flatten() {
                Some(r) => self.moved_in[r].push(m),
                None => short += 1,
            }
        }
        short
    }

    /// The first room `m` may go to by its service's rules, and takes it there.
    fn place(&mut self, m: &Moving<'a>) -> Option<usize> {
        let range = match m.zone {
            Some(zone) => self.zone_rooms.get(zone).cloned().unwrap_or(0..0),
            None => 0..self.packer.len(),
        };
        let r = match m.rules {
            None => self.packer.first_fit_where(range, m.shape, &|_| true)?,
            Some(rules) => {
                let distinct = rules.distinct_instance();
                let accept = |room: usize| {
                    if distinct
                        && self
                            .distinct
                            .get(&(room, m.service))
                            .is_some_and(|n| *n > 0)
                    {
                        return false;
                    }
                    let instance = &self.hosts[self.host_of[room]].instance;
                    rules.allows(&HostFacts {
                        attributes: &instance.attributes,
                        ec2_instance_id: instance.ec2_instance_id.as_deref(),
                    })
                };
                self.packer.first_fit_where(range, m.shape, &accept)?
            }
        };
        self.packer.take(r, m.shape);
        self.count_distinct(r, m, 1);
        Some(r)
    }

    fn count_distinct(&mut self, room: usize, m: &Moving<'a>, delta: i32) {
        if m.rules.is_some_and(ServicePlacement::distinct_instance) {
            let n = self.distinct.entry((room, m.service)).or_default();
            *n = n.saturating_add_signed(delta);
        }
    }

    /// Worst-case tasks free on the open rooms.
    pub(super) fn free_slots(&self) -> u64 {
        self.packer.free_slots()
    }

    /// Tasks to move if host `i` went: those ECS moves off it, and those moved onto it.
    pub(super) fn tasks_to_move(&self, i: usize) -> u64 {
        let moved = self.room_of[i].map_or(0, |r| self.moved_in[r].len());
        (self.hosts[i].moving_tasks().count() + moved) as u64
    }

    /// Closes host `i`'s room when nothing would move off it (empty, or only daemon tasks)
    /// and the hosts that stay keep `headroom` free without it: the O(1) check for hosts
    /// beyond the budget. Returns the room closed, or `None` (the room is left as it was).
    pub(super) fn close_if_empty(&mut self, i: usize, headroom: u64) -> Option<usize> {
        let r = self.room_of[i]?;
        if self.tasks_to_move(i) > 0 {
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

    /// Closes host `i`'s room for good when it is empty as managed scaling counts it
    /// ([`ClusterHost::runs_only_daemons`]) and nothing was moved onto it (capacity-provider
    /// mode leaves such hosts to managed scaling and moves nothing onto them). Whether it
    /// was closed.
    pub(super) fn close_empty(&mut self, i: usize) -> bool {
        match self.room_of[i] {
            Some(r) if self.tasks_to_move(i) == 0 && self.hosts[i].runs_only_daemons() => {
                self.packer.set_open(r, false);
                true
            }
            _ => false,
        }
    }

    /// Opens rooms closed by [`Trial::close_if_empty`] again.
    pub(super) fn reopen(&mut self, rooms: impl IntoIterator<Item = usize>) {
        for r in rooms {
            self.packer.set_open(r, true);
        }
    }

    /// Tries to remove host `i`: closes its room and moves every task ECS would move off it
    /// (its service tasks, and those moved onto it) first-fit decreasing onto the rooms left,
    /// each where its service's rules allow; the hosts that stay must then keep `headroom`
    /// worst-case tasks free with room for the `margin` placed besides (only the headroom when
    /// nothing moves: an empty host leaves as the book's scale-in removes one). On failure the
    /// trial is already undone.
    pub(super) fn try_host(
        &mut self,
        i: usize,
        headroom: u64,
        margin: Margin,
    ) -> Result<Attempt<'a>, Unconsolidatable> {
        // Every candidate accepts tasks, so it has a room.
        let Some(r) = self.room_of[i] else {
            return Err(Unconsolidatable::AgentDisconnected);
        };
        self.packer.set_open(r, false);
        let own: Vec<Moving<'a>> = self.hosts[i]
            .moving_tasks()
            .map(|t| self.moving(t, i))
            .collect();
        let mut moving: Vec<Moving<'a>> = own
            .into_iter()
            .chain(self.moved_in[r].iter().copied())
            .collect();
        moving.sort_by_cached_key(|m| std::cmp::Reverse(size_key(m.shape, &self.size)));
        let tasks = u32::try_from(moving.len()).unwrap_or(u32::MAX);
        let mut attempt = Attempt {
            room: r,
            tasks,
            log: Vec::with_capacity(moving.len()),
        };
        for m in &moving {
            match self.place(m) {
                Some(onto) => attempt.log.push((onto, *m)),
                None => {
                    self.undo(attempt);
                    return Err(Unconsolidatable::TasksDoNotFit {
                        tasks,
                        shape: m.shape.name.clone(),
                    });
                }
            }
        }
        let kept = match (moving.first(), margin.of) {
            (None, _) => self.keeps(headroom),
            (Some(_), _) if margin.tasks == 0 => self.keeps(headroom),
            (Some(_), MarginTask::WorstCase) => self.keeps(headroom + u64::from(margin.tasks)),
            (Some(largest), MarginTask::LargestMoving) => {
                self.keeps_besides(headroom, largest.shape, margin.tasks)
            }
        };
        if let Err(why) = kept {
            self.undo(attempt);
            return Err(why);
        }
        Ok(attempt)
    }

    /// Whether `headroom` worst-case tasks stay free.
    fn keeps(&self, headroom: u64) -> Result<(), Unconsolidatable> {
        let left = self.packer.free_slots();
        if left < headroom {
            return Err(Unconsolidatable::WouldBreakHeadroom {
                left,
                headroom: u32::try_from(headroom).unwrap_or(u32::MAX),
            });
        }
        Ok(())
    }

    /// Whether `count` more tasks of `shape` fit on the rooms left with `headroom` worst-case
    /// tasks still free beside them (tried, then given back).
    fn keeps_besides(
        &mut self,
        headroom: u64,
        shape: &TaskShape,
        count: u32,
    ) -> Result<(), Unconsolidatable> {
        let mut placed = Vec::with_capacity(count as usize);
        for _ in 0..count {
            match self.packer.place(shape) {
                Some(onto) => placed.push(onto),
                None => break,
            }
        }
        let kept = placed.len() == count as usize && self.keeps(headroom).is_ok();
        for onto in placed {
            self.packer.give(onto, shape);
        }
        if !kept {
            return Err(Unconsolidatable::NoRoomForMargin {
                shape: shape.name.clone(),
                tasks: count,
            });
        }
        Ok(())
    }

    /// Gives every task of `attempt` back and opens its room again.
    pub(super) fn undo(&mut self, attempt: Attempt<'a>) {
        for (onto, m) in attempt.log.iter().rev() {
            self.packer.give(*onto, m.shape);
            self.count_distinct(*onto, m, -1);
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

    /// Where every moved task goes, on the hosts that stay, in the group's order.
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
