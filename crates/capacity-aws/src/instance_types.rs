//! The instance types an Auto Scaling group launches, and their sizes: [`InstanceTypeReader`],
//! its implementation on the EC2 and Auto Scaling clients ([`Ec2InstanceTypes`]), the
//! [`GroupLaunchCache`] that keeps each answer for [`LAUNCH_CACHE_TTL`], and for tests
//! `FakeInstanceTypes`.
//!
//! A group's [`LaunchSpec`] (read with the group, in `group`) names its types in one of
//! three ways, each resolved to a type name:
//!
//! * a launch template: its version's `LaunchTemplateData.InstanceType`
//!   (DescribeLaunchTemplateVersions of `$Latest`, `$Default` or a number; no version is
//!   `$Default`, as Auto Scaling reads it);
//! * a launch configuration: its `InstanceType` (DescribeLaunchConfigurations);
//! * a mixed instances policy: each override's `InstanceType`, else its own template's type —
//!   in the overrides' order, each with its `WeightedCapacity` (1 when unset).
//!
//! The distinct names are then described in one DescribeInstanceTypes call (at most 100 names
//! a call; a policy has at most 40 overrides): `VCpuInfo.DefaultVCpus`, `MemoryInfo.SizeInMiB`,
//! `NetworkInfo.MaximumNetworkInterfaces`, and the GPUs of `GpuInfo.Gpus[].Count`. A type
//! chosen by attributes (`InstanceRequirements`) or not known to DescribeInstanceTypes is a
//! typed error naming it: no size is ever made up for a type.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use capacity_core::fit::{AllowedType, GroupLaunch, InstanceTypeInfo, LaunchSpec, TemplateRef};

use crate::Error;
use crate::clock::Clock;
use crate::ec2_query::{Ec2CallError, Ec2Query};

mod ec2;
pub use ec2::DescribedType;

/// Reads the instance types a group launches.
pub trait InstanceTypeReader: Send + Sync {
    /// The types `spec` lets the group launch, in the group's order (the overrides' order; the
    /// one type of a template or configuration otherwise), each with its size and weight, and
    /// how the group picks among them ([`LaunchSpec::order`]).
    fn group_launch(
        &self,
        spec: &LaunchSpec,
    ) -> impl Future<Output = Result<GroupLaunch, Error>> + Send;
}

/// How long a resolved [`GroupLaunch`] is kept: the group's [`LaunchSpec`] is the key, but a
/// template's `$Latest` or `$Default` can move to another type without the group changing,
/// so each is read again after an hour. Four reads an hour per group, not one per invocation.
pub const LAUNCH_CACHE_TTL: Duration = Duration::from_secs(60 * 60);

/// DescribeInstanceTypes takes at most 100 names a call.
const DESCRIBE_TYPES_BATCH: usize = 100;

const DESCRIBE_VERSIONS: &str = "DescribeLaunchTemplateVersions";
const DESCRIBE_CONFIGURATIONS: &str = "DescribeLaunchConfigurations";
const DESCRIBE_TYPES: &str = "DescribeInstanceTypes";

/// The three reads a [`LaunchSpec`] resolves through: implemented on the SDK clients and on
/// the fake, so both resolve a specification by the one rule of [`resolve`].
trait LaunchReads: Send + Sync {
    /// The instance type a launch template's version names (`None`: it names none, and
    /// selects by attributes).
    fn template_type(
        &self,
        template: &TemplateRef,
    ) -> impl Future<Output = Result<TemplateType, Error>> + Send;

    /// The instance type of the launch configuration `name`.
    fn configuration_type(&self, name: &str) -> impl Future<Output = Result<String, Error>> + Send;

    /// The sizes of `names` (each known, or an error naming the unknown).
    fn describe(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<InstanceTypeInfo>, Error>> + Send;
}

/// What a launch template's version says of the type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplateType {
    Named(String),
    ByAttributes,
}

/// The one rule: each position's type name, in the group's order, then one describe of the
/// distinct names.
async fn resolve<R: LaunchReads>(reads: &R, spec: &LaunchSpec) -> Result<GroupLaunch, Error> {
    let mut templates: BTreeMap<TemplateRef, String> = BTreeMap::new();
    let mut named: Vec<(String, u32)> = Vec::with_capacity(spec.overrides.len().max(1));
    if spec.overrides.is_empty() {
        let name = match (&spec.launch_template, &spec.launch_configuration) {
            (Some(template), _) => template_type(reads, template, &mut templates).await?,
            (None, Some(configuration)) => reads.configuration_type(configuration).await?,
            (None, None) => {
                return Err(Error::MissingField {
                    what: "Auto Scaling group's launch",
                    id: "(unnamed)".to_owned(),
                    field: "LaunchTemplate, LaunchConfigurationName or MixedInstancesPolicy",
                });
            }
        };
        named.push((name, 1));
    }
    for (i, o) in spec.overrides.iter().enumerate() {
        let name = match (&o.instance_type, &o.launch_template) {
            (Some(name), _) => name.clone(),
            (None, Some(template)) => template_type(reads, template, &mut templates).await?,
            (None, None) => {
                return Err(Error::AttributeBasedTypes {
                    what: format!("override {} of the mixed instances policy", i + 1),
                });
            }
        };
        named.push((name, o.weight.unwrap_or(1)));
    }
    let distinct: Vec<String> = named
        .iter()
        .map(|(n, _)| n.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut sizes: HashMap<String, InstanceTypeInfo> = HashMap::with_capacity(distinct.len());
    for batch in distinct.chunks(DESCRIBE_TYPES_BATCH) {
        for info in reads.describe(batch).await? {
            sizes.insert(info.name.clone(), info);
        }
    }
    let types = named
        .into_iter()
        .map(|(name, weight)| {
            let info = sizes
                .get(&name)
                .cloned()
                .ok_or(Error::UnknownInstanceType {
                    instance_type: name,
                })?;
            Ok(AllowedType { info, weight })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(GroupLaunch {
        types,
        order: spec.order(),
    })
}

/// A template's type, each template read once per resolution.
async fn template_type<R: LaunchReads>(
    reads: &R,
    template: &TemplateRef,
    seen: &mut BTreeMap<TemplateRef, String>,
) -> Result<String, Error> {
    if let Some(name) = seen.get(template) {
        return Ok(name.clone());
    }
    match reads.template_type(template).await? {
        TemplateType::Named(name) => {
            seen.insert(template.clone(), name.clone());
            Ok(name)
        }
        TemplateType::ByAttributes => Err(Error::AttributeBasedTypes {
            what: format!("launch template {}", template_id(template)),
        }),
    }
}

/// `lt-0abc version $Latest`, `ecs-hosts version $Default`: what an error names.
fn template_id(template: &TemplateRef) -> String {
    format!(
        "{} version {}",
        template
            .id
            .as_deref()
            .or(template.name.as_deref())
            .unwrap_or("(unnamed)"),
        template.version.as_deref().unwrap_or("$Default")
    )
}

/// [`InstanceTypeReader`] on EC2 ([`Ec2Query`]: why not the `aws-sdk-ec2` client is said
/// there) and the Auto Scaling SDK client, uncached (wrap it in a [`GroupLaunchCache`]).
/// Clone is cheap.
#[derive(Debug, Clone)]
pub struct Ec2InstanceTypes {
    ec2: Ec2Query,
    autoscaling: aws_sdk_autoscaling::Client,
}

impl Ec2InstanceTypes {
    pub fn new(ec2: Ec2Query, autoscaling: aws_sdk_autoscaling::Client) -> Self {
        Ec2InstanceTypes { ec2, autoscaling }
    }

    /// Both clients built from `sdk`.
    pub fn from_conf(sdk: &aws_config::SdkConfig) -> Self {
        Ec2InstanceTypes::new(Ec2Query::new(sdk), aws_sdk_autoscaling::Client::new(sdk))
    }

    /// One EC2 call with owned parameters.
    async fn call(
        &self,
        action: &'static str,
        params: &[(String, String)],
    ) -> Result<String, Ec2CallError> {
        let params: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.ec2.call(action, &params).await
    }
}

impl InstanceTypeReader for Ec2InstanceTypes {
    async fn group_launch(&self, spec: &LaunchSpec) -> Result<GroupLaunch, Error> {
        resolve(self, spec).await
    }
}

impl LaunchReads for Ec2InstanceTypes {
    async fn template_type(&self, template: &TemplateRef) -> Result<TemplateType, Error> {
        let id = template_id(template);
        if template.id.is_none() && template.name.is_none() {
            return Err(Error::MissingField {
                what: "launch template",
                id,
                field: "LaunchTemplateId or LaunchTemplateName",
            });
        }
        let params = ec2::versions_request(
            template.id.as_deref(),
            template.name.as_deref(),
            template.version.as_deref().unwrap_or("$Default"),
        );
        let xml = self
            .call(DESCRIBE_VERSIONS, &params)
            .await
            .map_err(|e| match e.code() {
                Some(code) if code.starts_with("InvalidLaunchTemplate") => Error::LaunchNotFound {
                    what: "launch template",
                    id: id.clone(),
                },
                _ => Error::launch(DESCRIBE_VERSIONS, format!("launch template {id}"), e),
            })?;
        let versions = ec2::template_versions(&xml)
            .map_err(|e| Error::launch(DESCRIBE_VERSIONS, format!("launch template {id}"), e))?;
        let version = versions.first().ok_or_else(|| Error::LaunchNotFound {
            what: "launch template",
            id: id.clone(),
        })?;
        if !version.has_data {
            return Err(Error::MissingField {
                what: "launch template",
                id,
                field: "LaunchTemplateData",
            });
        }
        match (&version.instance_type, version.by_attributes) {
            (Some(t), _) => Ok(TemplateType::Named(t.clone())),
            (None, true) => Ok(TemplateType::ByAttributes),
            (None, false) => Err(Error::MissingField {
                what: "launch template",
                id,
                field: "LaunchTemplateData.InstanceType",
            }),
        }
    }

    async fn configuration_type(&self, name: &str) -> Result<String, Error> {
        let out = self
            .autoscaling
            .describe_launch_configurations()
            .launch_configuration_names(name)
            .send()
            .await
            .map_err(|e| {
                Error::launch(
                    DESCRIBE_CONFIGURATIONS,
                    format!("launch configuration {name}"),
                    e,
                )
            })?;
        let configuration = out
            .launch_configurations()
            .iter()
            .find(|c| c.launch_configuration_name() == Some(name))
            .ok_or_else(|| Error::LaunchNotFound {
                what: "launch configuration",
                id: name.to_owned(),
            })?;
        configuration
            .instance_type()
            .map(str::to_owned)
            .ok_or_else(|| Error::MissingField {
                what: "launch configuration",
                id: name.to_owned(),
                field: "InstanceType",
            })
    }

    async fn describe(&self, names: &[String]) -> Result<Vec<InstanceTypeInfo>, Error> {
        let asked = || format!("instance types {}", names.join(", "));
        let mut infos = Vec::with_capacity(names.len());
        let mut next_token: Option<String> = None;
        loop {
            let params = ec2::types_request(names, next_token.as_deref());
            let xml = self
                .call(DESCRIBE_TYPES, &params)
                .await
                .map_err(|e| match e.code() {
                    // "The following supplied instance types do not exist: [m5.larg]"
                    Some(code) if code.starts_with("InvalidInstanceType") => {
                        Error::UnknownInstanceType {
                            instance_type: e
                                .message()
                                .and_then(bracketed)
                                .unwrap_or_else(|| names.join(", ")),
                        }
                    }
                    _ => Error::launch(DESCRIBE_TYPES, asked(), e),
                })?;
            let page =
                ec2::types_page(&xml).map_err(|e| Error::launch(DESCRIBE_TYPES, asked(), e))?;
            for t in &page.types {
                infos.push(type_info(t)?);
            }
            match page.next_token {
                Some(token) => next_token = Some(token),
                None => break,
            }
        }
        Ok(infos)
    }
}

/// The text between the last `[` and the `]` after it.
fn bracketed(message: &str) -> Option<String> {
    let (_, rest) = message.rsplit_once('[')?;
    let (inside, _) = rest.split_once(']')?;
    (!inside.trim().is_empty()).then(|| inside.trim().to_owned())
}

/// One described type as ours: a missing, negative or non-numeric vCPU count or memory, or a
/// GPU entry without its count, is an error naming the field.
pub fn type_info(t: &DescribedType) -> Result<InstanceTypeInfo, Error> {
    let name = t.instance_type.clone().ok_or_else(|| Error::MissingField {
        what: "instance type",
        id: "(unnamed)".to_owned(),
        field: "InstanceType",
    })?;
    let number = |field: &'static str, value: Option<&String>| {
        let value = value.ok_or_else(|| Error::MissingField {
            what: "instance type",
            id: name.clone(),
            field,
        })?;
        value
            .trim()
            .parse::<u32>()
            .map_err(|_| Error::InvalidField {
                what: "instance type",
                id: name.clone(),
                field,
                value: value.clone(),
            })
    };
    let vcpus = number("VCpuInfo.DefaultVCpus", t.default_vcpus.as_ref())?;
    let memory_mib = number("MemoryInfo.SizeInMiB", t.memory_mib.as_ref())?;
    let max_enis = t
        .max_enis
        .as_ref()
        .map(|m| number("NetworkInfo.MaximumNetworkInterfaces", Some(m)))
        .transpose()?;
    let mut gpus = 0u32;
    for count in &t.gpu_counts {
        gpus = gpus.saturating_add(number("GpuInfo.Gpus[].Count", count.as_ref())?);
    }
    Ok(InstanceTypeInfo {
        name,
        vcpus,
        memory_mib,
        max_enis,
        gpus,
        registered: None,
    })
}

/// An [`InstanceTypeReader`] that keeps each [`LaunchSpec`]'s answer for a time to live
/// ([`LAUNCH_CACHE_TTL`] by default) across warm invocations, on the clock it is given. A
/// failed read is not kept: the next invocation asks again.
pub struct GroupLaunchCache<R> {
    reader: R,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    entries: Mutex<HashMap<LaunchSpec, (SystemTime, GroupLaunch)>>,
}

impl<R: InstanceTypeReader> GroupLaunchCache<R> {
    pub fn new(reader: R, clock: Arc<dyn Clock>) -> Self {
        GroupLaunchCache::with_ttl(reader, clock, LAUNCH_CACHE_TTL)
    }

    /// A cache keeping each answer for `ttl`.
    pub fn with_ttl(reader: R, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        GroupLaunchCache {
            reader,
            clock,
            ttl,
            entries: Mutex::default(),
        }
    }

    /// The reader behind the cache.
    pub fn reader(&self) -> &R {
        &self.reader
    }

    /// Whether an answer read at `read_at` is still good at `now`; a clock set back before it
    /// counts as stale, so a wrong clock costs a read and never keeps an answer for ever.
    fn fresh(&self, read_at: SystemTime, now: SystemTime) -> bool {
        now.duration_since(read_at).is_ok_and(|age| age < self.ttl)
    }
}

impl<R> std::fmt::Debug for GroupLaunchCache<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupLaunchCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<R: InstanceTypeReader> InstanceTypeReader for GroupLaunchCache<R> {
    async fn group_launch(&self, spec: &LaunchSpec) -> Result<GroupLaunch, Error> {
        let now = self.clock.now();
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((read_at, launch)) = entries.get(spec)
                && self.fresh(*read_at, now)
            {
                return Ok(launch.clone());
            }
        }
        let launch = self.reader.group_launch(spec).await?;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // A group changed many times in one process leaves no stale answers behind.
        entries.retain(|_, (read_at, _)| self.fresh(*read_at, now));
        entries.insert(spec.clone(), (now, launch.clone()));
        Ok(launch)
    }
}

#[cfg(any(test, feature = "fake"))]
pub use fake::FakeInstanceTypes;

#[cfg(any(test, feature = "fake"))]
mod fake {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use capacity_core::fit::{GroupLaunch, InstanceTypeInfo, LaunchSpec, TemplateRef};

    use super::{InstanceTypeReader, LaunchReads, TemplateType, resolve, template_id};
    use crate::Error;

    /// An in-memory [`InstanceTypeReader`] for tests: answers from a table of types, and
    /// launch templates and configurations by name, by the same rule as the SDK
    /// implementation; counts its reads; can fail.
    #[derive(Debug, Default)]
    pub struct FakeInstanceTypes {
        /// The types DescribeInstanceTypes knows, by name.
        pub types: BTreeMap<String, InstanceTypeInfo>,
        /// The instance type of each launch template (by id or name) and launch
        /// configuration (by name); a template mapped to `None` selects by attributes.
        pub launched: BTreeMap<String, Option<String>>,
        /// Fail every read (as a throttled or denied call would).
        pub fail: bool,
        /// How many times [`InstanceTypeReader::group_launch`] was called.
        pub reads: AtomicUsize,
    }

    impl FakeInstanceTypes {
        /// Knows the types `(name, vCPUs, memory MiB)`, without GPUs and with an unknown ENI
        /// limit.
        pub fn with(types: &[(&str, u32, u32)]) -> FakeInstanceTypes {
            FakeInstanceTypes::new(
                types
                    .iter()
                    .map(|(name, vcpus, memory_mib)| InstanceTypeInfo {
                        name: (*name).to_owned(),
                        vcpus: *vcpus,
                        memory_mib: *memory_mib,
                        max_enis: None,
                        gpus: 0,
                        registered: None,
                    }),
            )
        }

        /// Knows `types`.
        pub fn new(types: impl IntoIterator<Item = InstanceTypeInfo>) -> FakeInstanceTypes {
            FakeInstanceTypes {
                types: types.into_iter().map(|t| (t.name.clone(), t)).collect(),
                ..FakeInstanceTypes::default()
            }
        }

        /// The launch template or configuration `name` launches `instance_type` (`None`:
        /// a template that selects by attributes).
        pub fn launching(mut self, name: &str, instance_type: Option<&str>) -> FakeInstanceTypes {
            self.launched
                .insert(name.to_owned(), instance_type.map(str::to_owned));
            self
        }

        /// Fails every read.
        pub fn failing(mut self) -> FakeInstanceTypes {
            self.fail = true;
            self
        }

        /// How many times the types were read.
        pub fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }
    }

    impl InstanceTypeReader for FakeInstanceTypes {
        async fn group_launch(&self, spec: &LaunchSpec) -> Result<GroupLaunch, Error> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.fail {
                return Err(Error::Launch {
                    operation: super::DESCRIBE_TYPES,
                    resource: "instance types".to_owned(),
                    message: "injected failure".to_owned(),
                    source: "injected failure".into(),
                });
            }
            resolve(self, spec).await
        }
    }

    impl LaunchReads for FakeInstanceTypes {
        async fn template_type(&self, template: &TemplateRef) -> Result<TemplateType, Error> {
            let found = [&template.id, &template.name]
                .into_iter()
                .flatten()
                .find_map(|key| self.launched.get(key));
            match found {
                Some(Some(name)) => Ok(TemplateType::Named(name.clone())),
                Some(None) => Ok(TemplateType::ByAttributes),
                None => Err(Error::LaunchNotFound {
                    what: "launch template",
                    id: template_id(template),
                }),
            }
        }

        async fn configuration_type(&self, name: &str) -> Result<String, Error> {
            self.launched
                .get(name)
                .cloned()
                .flatten()
                .ok_or_else(|| Error::LaunchNotFound {
                    what: "launch configuration",
                    id: name.to_owned(),
                })
        }

        async fn describe(&self, names: &[String]) -> Result<Vec<InstanceTypeInfo>, Error> {
            // As EC2: one unknown name fails the whole call.
            let unknown: Vec<&str> = names
                .iter()
                .filter(|n| !self.types.contains_key(*n))
                .map(String::as_str)
                .collect();
            if !unknown.is_empty() {
                return Err(Error::UnknownInstanceType {
                    instance_type: unknown.join(", "),
                });
            }
            Ok(names
                .iter()
                .filter_map(|n| self.types.get(n).cloned())
                .collect())
        }
    }
}

#[cfg(test)]
mod tests;
