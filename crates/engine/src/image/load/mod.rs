//! `load`: images from a `docker save` archive (docker-archive) or an OCI image
//! layout archive, from a file or a stream, gzip/zstd-compressed or not.

mod docker_archive;
mod oci_layout;
mod tar_index;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use kujira_archive::{detect_compression, Compression};

use super::Registered;
use crate::{Engine, EngineError};
use tar_index::TarIndex;

impl Engine {
    /// Loads every image of the archive at `path`.
    pub fn load_file(&self, path: &Path) -> Result<Vec<Registered>, EngineError> {
        let file =
            File::open(path).map_err(|e| EngineError::io(format!("open {}", path.display()), e))?;
        let mut peek = [0u8; 4];
        let n = read_up_to(&file, &mut peek)?;
        match detect_compression(&peek[..n]) {
            Compression::None => {
                let file = File::open(path)
                    .map_err(|e| EngineError::io(format!("open {}", path.display()), e))?;
                self.load_indexed(TarIndex::build(file)?)
            }
            _ => {
                let file = File::open(path)
                    .map_err(|e| EngineError::io(format!("open {}", path.display()), e))?;
                self.load_stream(file)
            }
        }
    }

    /// Loads from a stream (standard input): it is spooled (decompressed) into the
    /// store's scratch area first, since an archive's members come in any order.
    pub fn load_stream(&self, input: impl Read) -> Result<Vec<Registered>, EngineError> {
        let mut input = BufReader::with_capacity(256 * 1024, input);
        let head = input
            .fill_buf()
            .map_err(|e| EngineError::io("reading the archive", e))?;
        if head.is_empty() {
            return Err(EngineError::InvalidArchive(
                "empty input: nothing to load (use -i FILE or pipe an archive)".into(),
            ));
        }
        let mut reader: Box<dyn Read> = match detect_compression(head) {
            Compression::None => Box::new(input),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::with_buffer(input)
                    .map_err(|e| EngineError::io("starting zstd", e))?,
            ),
        };
        let spool = self.store.tmp.path("load")?;
        let mut out = File::options()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&spool)
            .map_err(|e| EngineError::io(format!("create {}", spool.display()), e))?;
        let _ = std::fs::remove_file(&spool); // the open handle keeps it; nothing to clean up later
        io::copy(&mut reader, &mut out).map_err(|e| EngineError::io("reading the archive", e))?;
        out.seek(SeekFrom::Start(0))
            .map_err(|e| EngineError::io("reading the archive", e))?;
        self.load_indexed(TarIndex::build(out)?)
    }

    fn load_indexed(&self, index: TarIndex) -> Result<Vec<Registered>, EngineError> {
        // Garbage collection waits while a load holds the shared lock, so nothing we
        // are about to reference disappears under us; a failed load is undone.
        if index.contains("manifest.json") {
            self.with_rollback(|created| docker_archive::load(self, &index, created))
        } else if index.contains("index.json") {
            self.with_rollback(|created| oci_layout::load(self, &index, created))
        } else {
            Err(EngineError::InvalidArchive(
                "neither manifest.json (docker save) nor index.json (OCI layout) found in the archive"
                    .into(),
            ))
        }
    }
}

fn read_up_to(mut f: &File, buf: &mut [u8]) -> Result<usize, EngineError> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(EngineError::io("reading the archive", e)),
        }
    }
    Ok(n)
}

/// Media type of a layer stored as found in the archive.
fn layer_media_type(first: &[u8]) -> &'static str {
    match detect_compression(first) {
        Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        Compression::None => "application/vnd.oci.image.layer.v1.tar",
    }
}
