//! The two EC2 reads' requests and answers, on [`crate::ec2_query`]: the parameters each sends
//! and the fields read from each answer's XML (EC2 names them in lowerCamelCase, lists as
//! `<…Set><item>`), each kept as EC2 wrote it so that [`super::type_info`] names a missing or
//! wrong field.

use aws_smithy_xml::decode::{ScopedDecoder, XmlDecodeError};

use crate::ec2_query::{text_of, whole};

/// One `<item>` of DescribeInstanceTypes' `instanceTypeSet`: each field as EC2 wrote it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DescribedType {
    /// `instanceType`
    pub instance_type: Option<String>,
    /// `vCpuInfo.defaultVCpus`
    pub default_vcpus: Option<String>,
    /// `memoryInfo.sizeInMiB`
    pub memory_mib: Option<String>,
    /// `networkInfo.maximumNetworkInterfaces`
    pub max_enis: Option<String>,
    /// `gpuInfo.gpus[].count`, one entry a GPU model (`None`: the entry has no count).
    pub gpu_counts: Vec<Option<String>>,
}

/// One page of DescribeInstanceTypes: the types and the `nextToken`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TypesPage {
    pub types: Vec<DescribedType>,
    pub next_token: Option<String>,
}

/// What one version of DescribeLaunchTemplateVersions' `launchTemplateVersionSet` says of the
/// type.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TemplateVersion {
    /// The version has `launchTemplateData`.
    pub has_data: bool,
    /// `launchTemplateData.instanceType`
    pub instance_type: Option<String>,
    /// `launchTemplateData.instanceRequirements` is there: types chosen by attributes.
    pub by_attributes: bool,
}

/// DescribeInstanceTypes' parameters for `names`, from `next_token`.
pub fn types_request(names: &[String], next_token: Option<&str>) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("InstanceType.{}", i + 1), n.clone()))
        .collect();
    if let Some(token) = next_token {
        params.push(("NextToken".to_owned(), token.to_owned()));
    }
    params
}

/// DescribeLaunchTemplateVersions' parameters: the template by id if it has one, else by
/// name (EC2 takes one), at `version`.
pub fn versions_request(
    id: Option<&str>,
    name: Option<&str>,
    version: &str,
) -> Vec<(String, String)> {
    let mut params = Vec::with_capacity(2);
    match (id, name) {
        (Some(id), _) => params.push(("LaunchTemplateId".to_owned(), id.to_owned())),
        (None, Some(name)) => params.push(("LaunchTemplateName".to_owned(), name.to_owned())),
        (None, None) => {}
    }
    params.push(("LaunchTemplateVersion.1".to_owned(), version.to_owned()));
    params
}

/// Reads a DescribeInstanceTypes answer.
pub fn types_page(xml: &str) -> Result<TypesPage, XmlDecodeError> {
    let mut doc = whole(xml)?;
    let mut root = doc.root_element()?;
    let mut page = TypesPage::default();
    while let Some(mut tag) = root.next_tag() {
        if tag.start_el().matches("instanceTypeSet") {
            while let Some(mut item) = tag.next_tag() {
                if item.start_el().matches("item") {
                    page.types.push(described_type(&mut item)?);
                }
            }
        } else if tag.start_el().matches("nextToken") {
            page.next_token = Some(text_of(&mut tag)?).filter(|t| !t.is_empty());
        }
    }
    Ok(page)
}

fn described_type(item: &mut ScopedDecoder) -> Result<DescribedType, XmlDecodeError> {
    let mut t = DescribedType::default();
    while let Some(mut field) = item.next_tag() {
        let name = field.start_el().local().to_owned();
        match name.as_str() {
            "instanceType" => t.instance_type = Some(text_of(&mut field)?),
            "vCpuInfo" => t.default_vcpus = child_text(&mut field, "defaultVCpus")?,
            "memoryInfo" => t.memory_mib = child_text(&mut field, "sizeInMiB")?,
            "networkInfo" => t.max_enis = child_text(&mut field, "maximumNetworkInterfaces")?,
            "gpuInfo" => {
                while let Some(mut gpus) = field.next_tag() {
                    if gpus.start_el().matches("gpus") {
                        while let Some(mut gpu) = gpus.next_tag() {
                            if gpu.start_el().matches("item") {
                                t.gpu_counts.push(child_text(&mut gpu, "count")?);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(t)
}

/// Reads a DescribeLaunchTemplateVersions answer: its versions in order.
pub fn template_versions(xml: &str) -> Result<Vec<TemplateVersion>, XmlDecodeError> {
    let mut doc = whole(xml)?;
    let mut root = doc.root_element()?;
    let mut versions = Vec::new();
    while let Some(mut set) = root.next_tag() {
        if !set.start_el().matches("launchTemplateVersionSet") {
            continue;
        }
        while let Some(mut item) = set.next_tag() {
            if !item.start_el().matches("item") {
                continue;
            }
            let mut version = TemplateVersion::default();
            while let Some(mut field) = item.next_tag() {
                if !field.start_el().matches("launchTemplateData") {
                    continue;
                }
                version.has_data = true;
                while let Some(mut data) = field.next_tag() {
                    if data.start_el().matches("instanceType") {
                        version.instance_type = Some(text_of(&mut data)?);
                    } else if data.start_el().matches("instanceRequirements") {
                        version.by_attributes = true;
                    }
                }
            }
            versions.push(version);
        }
    }
    Ok(versions)
}

/// The text of the child `name` of `tag`, if it has one.
fn child_text(tag: &mut ScopedDecoder, name: &str) -> Result<Option<String>, XmlDecodeError> {
    let mut found = None;
    while let Some(mut child) = tag.next_tag() {
        if child.start_el().matches(name) {
            found = Some(text_of(&mut child)?);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DescribeInstanceTypes as EC2 answers it (the reference's example, trimmed to the fields
    /// read and a few beside them).
    const TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstanceTypesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>1c5b2e1e-example</requestId>
    <instanceTypeSet>
        <item>
            <instanceType>g4dn.12xlarge</instanceType>
            <currentGeneration>true</currentGeneration>
            <vCpuInfo><defaultVCpus>48</defaultVCpus><defaultCores>24</defaultCores></vCpuInfo>
            <memoryInfo><sizeInMiB>196608</sizeInMiB></memoryInfo>
            <networkInfo><networkPerformance>50 Gigabit</networkPerformance><maximumNetworkInterfaces>8</maximumNetworkInterfaces></networkInfo>
            <gpuInfo><gpus><item><name>T4</name><manufacturer>NVIDIA</manufacturer><count>4</count></item></gpus><totalGpuMemoryInMiB>65536</totalGpuMemoryInMiB></gpuInfo>
        </item>
        <item>
            <instanceType>m5.large</instanceType>
            <vCpuInfo><defaultVCpus>2</defaultVCpus></vCpuInfo>
            <memoryInfo><sizeInMiB>8192</sizeInMiB></memoryInfo>
        </item>
    </instanceTypeSet>
    <nextToken>page-2</nextToken>
</DescribeInstanceTypesResponse>"#;

    #[test]
    fn an_instance_types_answer_is_read_field_by_field_with_its_next_token() {
        let page = types_page(TYPES).expect("parsed");
        assert_eq!(page.next_token.as_deref(), Some("page-2"));
        assert_eq!(
            page.types,
            vec![
                DescribedType {
                    instance_type: Some("g4dn.12xlarge".to_owned()),
                    default_vcpus: Some("48".to_owned()),
                    memory_mib: Some("196608".to_owned()),
                    max_enis: Some("8".to_owned()),
                    gpu_counts: vec![Some("4".to_owned())],
                },
                DescribedType {
                    instance_type: Some("m5.large".to_owned()),
                    default_vcpus: Some("2".to_owned()),
                    memory_mib: Some("8192".to_owned()),
                    max_enis: None,
                    gpu_counts: vec![],
                },
            ]
        );
    }

    #[test]
    fn a_template_version_names_its_type_or_selects_by_attributes() {
        let xml = r#"<DescribeLaunchTemplateVersionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>65cadec1-example</requestId>
  <launchTemplateVersionSet>
    <item>
      <launchTemplateId>lt-0abc</launchTemplateId><versionNumber>3</versionNumber>
      <launchTemplateData><imageId>ami-1</imageId><instanceType>m5.large</instanceType></launchTemplateData>
    </item>
    <item>
      <launchTemplateId>lt-0abc</launchTemplateId><versionNumber>4</versionNumber>
      <launchTemplateData><instanceRequirements><vCpuCount><min>2</min></vCpuCount></instanceRequirements></launchTemplateData>
    </item>
    <item><launchTemplateId>lt-0abc</launchTemplateId><versionNumber>5</versionNumber></item>
  </launchTemplateVersionSet>
</DescribeLaunchTemplateVersionsResponse>"#;
        assert_eq!(
            template_versions(xml).expect("parsed"),
            vec![
                TemplateVersion {
                    has_data: true,
                    instance_type: Some("m5.large".to_owned()),
                    by_attributes: false,
                },
                TemplateVersion {
                    has_data: true,
                    instance_type: None,
                    by_attributes: true,
                },
                TemplateVersion::default(),
            ]
        );
    }

    #[test]
    fn requests_name_the_template_once_and_number_the_types() {
        assert_eq!(
            versions_request(Some("lt-0abc"), Some("hosts"), "$Latest"),
            vec![
                ("LaunchTemplateId".to_owned(), "lt-0abc".to_owned()),
                ("LaunchTemplateVersion.1".to_owned(), "$Latest".to_owned()),
            ]
        );
        assert_eq!(
            types_request(&["c5.xlarge".to_owned(), "m5.xlarge".to_owned()], Some("t")),
            vec![
                ("InstanceType.1".to_owned(), "c5.xlarge".to_owned()),
                ("InstanceType.2".to_owned(), "m5.xlarge".to_owned()),
                ("NextToken".to_owned(), "t".to_owned()),
            ]
        );
    }

    #[test]
    fn a_broken_answer_is_an_error_not_an_empty_list() {
        assert!(types_page("<DescribeInstanceTypesResponse><instanceTypeSet><item>").is_err());
        assert!(template_versions("not xml").is_err());
    }
}
