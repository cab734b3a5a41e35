//! `system df`: disk used by images (layers counted once however many images share
//! them), containers, volumes and build cache, as Docker defines the figures.

use std::collections::{HashMap, HashSet};

use crate::image::list::{ImageFilters, ImageSummary};
use crate::{Digest, Engine, EngineError};

#[derive(Debug, Clone)]
pub struct ImageUsage {
    pub summary: ImageSummary,
    /// Bytes of layers this image shares with at least one other image.
    pub shared_size: u64,
    /// Bytes of layers only this image uses.
    pub unique_size: u64,
    pub containers: u64,
}

/// A container's copy-on-write layer.
#[derive(Debug, Clone)]
pub struct ContainerUsage {
    pub container: crate::container::Container,
    /// Bytes in its upper directory.
    pub rw_size: u64,
}

#[derive(Debug, Clone)]
pub struct VolumeUsage {
    pub volume: crate::container::volume::Volume,
    pub size: u64,
}

#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
    /// All image layers, each counted once.
    pub layers_size: u64,
    /// Layers used by images that containers use, each counted once.
    pub active_layers_size: u64,
    /// The build cache, oldest first.
    pub build_cache: Vec<BuildCacheUsage>,
}

/// A build cache record and whether an image uses its layer too (Docker's `Shared`:
/// such a record's bytes are counted under Images, not Build Cache).
#[derive(Debug, Clone)]
pub struct BuildCacheUsage {
    pub record: kujira_store::metadata::CacheRecord,
    pub shared: bool,
}

impl DiskUsage {
    /// `system df`'s Build Cache size: records whose layer no image shares.
    pub fn build_cache_size(&self) -> u64 {
        self.build_cache
            .iter()
            .filter(|b| !b.shared)
            .map(|b| b.record.size)
            .sum()
    }
}

impl Engine {
    pub fn disk_usage(&self) -> Result<DiskUsage, EngineError> {
        let images = self.list_images(true, &ImageFilters::default())?;
        let usage = self.store.meta.layer_usage()?;
        let sizes: HashMap<Digest, u64> = self.store.meta.layers()?.into_iter().collect();
        let mut users: HashMap<&Digest, usize> = HashMap::new();
        let mut by_image: HashMap<&Digest, Vec<&Digest>> = HashMap::new();
        for (image, chain) in &usage {
            *users.entry(chain).or_default() += 1;
            by_image.entry(image).or_default().push(chain);
        }
        let referenced: HashSet<&Digest> = users.keys().copied().collect();
        let containers = self.containers()?;
        let mut per_image: HashMap<String, u64> = HashMap::new();
        for c in &containers {
            *per_image.entry(c.row.image_id.clone()).or_default() += 1;
        }
        let active_layers: HashSet<&Digest> = usage
            .iter()
            .filter(|(image, _)| per_image.contains_key(image.as_str()))
            .map(|(_, chain)| chain)
            .collect();
        let active_layers_size = active_layers
            .iter()
            .map(|c| sizes.get(*c).copied().unwrap_or(0))
            .sum();
        let layers_size = referenced
            .iter()
            .map(|c| sizes.get(*c).copied().unwrap_or(0))
            .sum();
        let images = images
            .into_iter()
            .map(|summary| {
                let (mut shared, mut unique) = (0, 0);
                for chain in by_image.get(&summary.id).into_iter().flatten() {
                    let s = sizes.get(*chain).copied().unwrap_or(0);
                    if users.get(chain).copied().unwrap_or(0) > 1 {
                        shared += s;
                    } else {
                        unique += s;
                    }
                }
                ImageUsage {
                    containers: per_image.get(summary.id.as_str()).copied().unwrap_or(0),
                    summary,
                    shared_size: shared,
                    unique_size: unique,
                }
            })
            .collect();
        let containers = containers
            .into_iter()
            .map(|c| ContainerUsage {
                rw_size: kujira_store::layers::tree_size(&self.container_paths(c.id()).upper())
                    .unwrap_or(0),
                container: c,
            })
            .collect();
        let volumes = self
            .volumes()?
            .into_iter()
            .map(|v| VolumeUsage {
                size: kujira_store::layers::tree_size(&self.store.volume_dir(&v.name)).unwrap_or(0),
                volume: v,
            })
            .collect();
        let build_cache = self
            .store
            .meta
            .cache_records()?
            .into_iter()
            .map(|record| BuildCacheUsage {
                shared: record
                    .layer
                    .as_ref()
                    .is_some_and(|l| referenced.contains(&l.chain_id)),
                record,
            })
            .collect();
        Ok(DiskUsage {
            images,
            containers,
            volumes,
            layers_size,
            active_layers_size,
            build_cache,
        })
    }
}
