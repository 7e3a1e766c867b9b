//! Marketplaces: `studio plugin marketplace add|update|list|rm` and
//! `studio plugin search`. A marketplace (a git repository or a folder
//! with [`MARKETPLACE_FILE`]) is fetched into a scratch folder, its index
//! read and its files copied out of the checkout within the tree's
//! limits (no links, no `.git`), then swapped in whole; a bad index
//! changes nothing.

use serde::Serialize;

use super::marketplace::{self, MARKETPLACE_FILE, MAX_MARKETPLACE_BYTES, MarketEntry, Marketplace};
use super::store::{MarketRecord, Plugins, StoreError};
use super::tree;
use crate::gallery::fetch::SourceKind;
use crate::gallery::fetch::{self, Location};
use crate::gallery::index::read_inside_of;
use protocol::Timestamp;

/// A plugin a search found.
#[derive(Clone, Debug, Serialize)]
pub struct Found {
    /// The marketplace that lists it.
    pub market: String,
    /// Its entry.
    pub entry: MarketEntry,
    /// The version installed, when it is (`""` when it gives none).
    pub installed: Option<String>,
}

impl Plugins {
    /// Adds the marketplace at `target` (a git URL or a folder), named
    /// `name` or as its index says.
    pub async fn add_market(
        &self,
        target: &str,
        name: Option<&str>,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<(MarketRecord, Marketplace), StoreError> {
        let location = Location::of(target)?;
        if let Some(name) = name {
            super::check_kebab(name).map_err(StoreError::BadSpec)?;
            self.refuse_market_name(name)?;
        }
        let now = Timestamp::now();
        let record = MarketRecord {
            name: name.unwrap_or_default().to_owned(),
            url: location.as_text(),
            kind: match location {
                Location::Git(_) => SourceKind::Git,
                Location::Folder(_) => SourceKind::Folder,
            },
            added: now,
            updated: now,
            commit: None,
        };
        self.fetch_market(record, &location, name.is_none(), progress)
            .await
    }

    /// Fetches the marketplace `name` again; its files change only when
    /// the new index reads.
    pub async fn update_market(
        &self,
        name: &str,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<(MarketRecord, Marketplace), StoreError> {
        let mut record = self.market(name)?;
        let location = match record.kind {
            SourceKind::Git => Location::Git(record.url.clone()),
            SourceKind::Folder => Location::Folder(record.url.clone().into()),
        };
        record.updated = Timestamp::now();
        self.fetch_market(record, &location, false, progress).await
    }

    /// The index of the marketplace `name`, as fetched.
    pub fn market_index(&self, name: &str) -> Result<Marketplace, StoreError> {
        let root = self.market_files(name);
        let text = read_inside_of(
            &root,
            MARKETPLACE_FILE,
            MAX_MARKETPLACE_BYTES,
            "the marketplace",
        )
        .map_err(|why| StoreError::Refused {
            what: format!("marketplace {name}"),
            why,
        })?;
        marketplace::parse(&text).map_err(|why| StoreError::Refused {
            what: format!("marketplace {name}"),
            why: format!("{MARKETPLACE_FILE}: {why}"),
        })
    }

    /// The plugins the marketplaces list whose name, description or
    /// keywords hold `query` (any case); every one for an empty query.
    pub fn search(&self, query: &str) -> Result<Vec<Found>, StoreError> {
        let query = query.to_lowercase();
        let installed = self.installed()?;
        let mut found = Vec::new();
        for record in self.markets()? {
            let index = self.market_index(&record.name)?;
            for entry in index.plugins {
                let matches = query.is_empty()
                    || entry.name.to_lowercase().contains(&query)
                    || entry.description.to_lowercase().contains(&query)
                    || entry
                        .keywords
                        .iter()
                        .any(|k| k.to_lowercase().contains(&query));
                if matches {
                    found.push(Found {
                        market: record.name.clone(),
                        installed: installed
                            .iter()
                            .find(|p| p.name == entry.name)
                            .map(|p| p.version.clone().unwrap_or_default()),
                        entry,
                    });
                }
            }
        }
        Ok(found)
    }

    fn refuse_market_name(&self, name: &str) -> Result<(), StoreError> {
        if self.markets()?.iter().any(|m| m.name == name) {
            return Err(StoreError::MarketTaken(name.to_owned()));
        }
        Ok(())
    }

    /// Fetches `location`, reads its index (named as the index says when
    /// `take_name`), copies its files and records it.
    async fn fetch_market(
        &self,
        mut record: MarketRecord,
        location: &Location,
        take_name: bool,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<(MarketRecord, Marketplace), StoreError> {
        let scratch = self.scratch("market")?;
        let root = match location {
            Location::Git(url) => {
                progress(&format!("fetching {url}…"));
                let checkout = scratch.path().join("checkout");
                record.commit = Some(fetch::clone(url, &checkout, fetch::FETCH_TIMEOUT).await?);
                checkout
            }
            Location::Folder(path) => path.clone(),
        };
        let refused = |why: String| StoreError::Refused {
            what: format!("marketplace {}", record.url),
            why,
        };
        let text = read_inside_of(
            &root,
            MARKETPLACE_FILE,
            MAX_MARKETPLACE_BYTES,
            "the marketplace",
        )
        .map_err(&refused)?;
        let index = marketplace::parse(&text)
            .map_err(|why| refused(format!("{MARKETPLACE_FILE}: {why}")))?;
        if take_name {
            record.name = index.name.clone();
            self.refuse_market_name(&record.name)?;
        }
        let copy = scratch.path().join("copy");
        tree::copy(&root, &copy).map_err(&refused)?;
        self.put_market(record.clone(), &copy)?;
        Ok((record, index))
    }
}
