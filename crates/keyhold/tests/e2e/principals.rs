//! The admin API's service principals: list, show by app id or object id, credential reset (the old
//! secret stops working), delete; and the subscription listed to a principal with a role in it.

use reqwest::Method;
use serde_json::json;

use crate::start;

#[tokio::test]
async fn service_principals_are_listed_reset_and_deleted() {
    let s = start(&[]);
    let mgmt = s.token(&s.state.url).await.unwrap();
    let base = format!("{}/keyhold/v1/servicePrincipals", s.state.url);
    let (status, sp) = s
        .call(
            reqwest::Method::POST,
            &base,
            Some(&mgmt),
            Some(json!({"displayName": "app1"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{sp}");
    let (app, oid, old) = (
        sp["appId"].as_str().unwrap().to_owned(),
        sp["objectId"].as_str().unwrap().to_owned(),
        sp["password"].as_str().unwrap().to_owned(),
    );

    let (status, all) = s.call(reqwest::Method::GET, &base, Some(&mgmt), None).await.unwrap();
    assert_eq!(status, 200);
    let names: Vec<&str> = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["displayName"].as_str())
        .collect();
    assert!(names.contains(&"app1"), "{all}");
    assert!(!all.to_string().contains(&old), "no secret in listings");

    for id in [&app, &oid] {
        let (status, one) = s
            .call(reqwest::Method::GET, &format!("{base}/{id}"), Some(&mgmt), None)
            .await
            .unwrap();
        assert_eq!(
            (status, one["id"].as_str(), one["appId"].as_str()),
            (200, Some(oid.as_str()), Some(app.as_str()))
        );
    }

    let (status, reset) = s
        .call(
            reqwest::Method::POST,
            &format!("{base}/{app}/credentials/reset"),
            Some(&mgmt),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{reset}");
    let new = reset["password"].as_str().unwrap();
    assert_ne!(new, old);
    assert!(
        s.token_for(&app, &old, &s.state.url).await.is_err(),
        "the old secret is removed"
    );
    let token = s.token_for(&app, new, &s.state.url).await.unwrap();

    // Not the admin: the admin API refuses it.
    let status = s.http.get(&base).bearer_auth(&token).send().await.unwrap().status();
    assert_eq!(status, 403);

    // No role: no subscription listed; a role on a group under it: listed, as Azure does.
    let sub = s.subscription_id().await.unwrap();
    let (_, subs) = s.arm_as(&token, Method::GET, "/subscriptions", None).await.unwrap();
    assert_eq!(subs["value"].as_array().map(Vec::len), Some(0), "{subs}");
    let rg = s.resource_group("rg").await.unwrap();
    let reader = format!(
        "/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
    );
    let (status, a) = s
        .arm(
            Method::PUT,
            &format!("{rg}/providers/Microsoft.Authorization/roleAssignments/7d3c1b5e-1111-4a2b-9c3d-0123456789ab"),
            Some(json!({"properties": {"roleDefinitionId": reader, "principalId": oid}})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{a}");
    let (_, subs) = s.arm_as(&token, Method::GET, "/subscriptions", None).await.unwrap();
    assert_eq!(subs["value"][0]["subscriptionId"], sub);

    let status = s
        .http
        .delete(format!("{base}/{app}"))
        .bearer_auth(&mgmt)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let status = s
        .http
        .get(format!("{base}/{app}"))
        .bearer_auth(&mgmt)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
    assert!(
        s.token_for(&app, new, &s.state.url).await.is_err(),
        "a deleted principal gets no token"
    );
    let admin_oid = s.admin.object_id.clone();
    let status = s
        .http
        .delete(format!("{base}/{admin_oid}"))
        .bearer_auth(&mgmt)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 400, "the admin cannot delete itself");
}
