//! How eager loading groups children (issue 26): whatever order the server returns them in —
//! children of different parents interleaved, a parent's children out of primary-key order
//! (a text key that a case-insensitive collation orders otherwise than the library), a parent
//! given twice, a parent without children — each parent gets exactly its children, in the
//! order of their primary key, equal to reading them one parent at a time. On every configured
//! backend, in tables of this file's own.

mod common;
mod ops_support;

use dsg_lib::prelude::*;
use serde_json::json;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "relg_parents")]
struct Parent {
    #[model(primary_key, size = 36)]
    pkid: String,
    #[model(size = 20)]
    name: String,
}

/// A child with a text primary key and no index of its own on the foreign key: the servers may
/// return the children of different parents interleaved (a scan in key order), and in an order
/// of the key that is not the library's (MariaDB's collation ignores case).
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "relg_items")]
struct Item {
    #[model(primary_key, size = 20)]
    code: String,
    #[model(belongs_to = Parent, size = 36)]
    parent_id: String,
    n: i32,
}

/// The children of `parent` read one parent at a time, sorted by primary key as the library
/// sorts a group (by the key's text, byte by byte).
async fn one_by_one(ops: &DatabaseOperations, parent: &Parent) -> Result<Vec<Item>, DatabaseError> {
    let mut select = Item::select();
    select.and_where(Item::col("parent_id").eq(parent.pkid.as_str()));
    let mut items: Vec<Item> = ops.read_query(&select).await?;
    items.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(items)
}

#[tokio::test]
async fn children_in_any_server_order_are_grouped_per_parent_in_key_order()
-> Result<(), Box<dyn std::error::Error>> {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = ops_support::fresh(&b, json!({}), |db| {
            db.register::<Parent>();
            db.register::<Item>();
        })
        .await;
        let parents: Vec<Parent> = ops
            .create_many(
                (0..5)
                    .map(|i| Parent {
                        pkid: uuid::Uuid::new_v4().to_string(),
                        name: format!("parent {i}"),
                    })
                    .collect(),
            )
            .await?;
        // 40 children of the first four parents, taken in turn; codes of mixed letter case, so
        // that a case-insensitive order (A01, a04, b00, B03, …) is not the bytes' (A01, B03, …).
        let items: Vec<Item> = (0..40)
            .map(|i| Item {
                code: format!("{}{i:02}", ["b", "A", "c", "B", "a"][i % 5]),
                parent_id: parents[i % 4].pkid.clone(),
                n: i as i32,
            })
            .collect();
        ops.create_many(items).await?;

        // The third parent twice, the childless fifth in the middle.
        let asked: Vec<Parent> = [2, 0, 2, 4, 1, 3]
            .iter()
            .map(|&i| parents[i].clone())
            .collect();
        let groups = ops.load::<Item>(&asked).await?;
        assert_eq!(
            groups.len(),
            asked.len(),
            "[{ctx}] one group per parent given"
        );
        for (parent, group) in asked.iter().zip(&groups) {
            let expected = one_by_one(&ops, parent).await?;
            assert_eq!(group, &expected, "[{ctx}] {}", parent.name);
        }
        assert_eq!(groups[0].len(), 10, "[{ctx}]");
        assert_eq!(
            groups[0], groups[2],
            "[{ctx}] a parent given twice gets its children twice"
        );
        assert!(groups[3].is_empty(), "[{ctx}] a parent without children");
        let codes: Vec<&str> = groups[1].iter().map(|i| i.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "A16", "A36", "B08", "B28", "a04", "a24", "b00", "b20", "c12", "c32"
            ],
            "[{ctx}] the first parent's children, by their key's bytes"
        );

        // The other way: each item's parent, in the items' order.
        let all: Vec<Item> = ops.read_query(Item::select()).await?;
        let owners = ops.load_parents::<Parent>(&all).await?;
        for (item, owner) in all.iter().zip(&owners) {
            assert_eq!(
                owner.as_ref().map(|p| p.pkid.as_str()),
                Some(item.parent_id.as_str()),
                "[{ctx}] {}",
                item.code
            );
        }
        db.drop_tables().await?;
        db.disconnect().await;
    }
    Ok(())
}
