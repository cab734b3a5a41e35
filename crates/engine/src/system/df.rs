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

#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    /// All image layers, each counted once.
    pub layers_size: u64,
    /// Layers used by images that containers use (none until containers exist).
    pub active_layers_size: u64,
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
                    summary,
                    shared_size: shared,
                    unique_size: unique,
                    containers: 0,
                }
            })
            .collect();
        Ok(DiskUsage {
            images,
            layers_size,
            active_layers_size: 0,
        })
    }
}
