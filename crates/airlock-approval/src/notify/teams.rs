//! Microsoft Teams: the Adaptive Card a request is posted as, wrapped the way a Workflows
//! webhook ("When a Teams webhook request is received") takes it. Teams cannot call back, so
//! the card's one action opens the request in the web inbox.

use crate::Request;
use serde_json::{Value, json};

use crate::view;

pub fn card_message(request: &Request, inbox: Option<&str>) -> Value {
    let id = request.id();
    let facts = json!([
        {"title": "Requester", "value": view::requester(request)},
        {"title": "Connection", "value": request.connection().as_str()},
        {"title": "Rule", "value": format!("{}: {}", request.context().rule, request.context().message)},
        {"title": "Statement", "value": view::kinds(request)},
        {"title": "Objects", "value": view::objects(request)},
        {"title": "Estimated rows", "value": view::rows(request)},
        {"title": "Approvers", "value": view::approvers(request)},
        {"title": "Expires", "value": view::when(request.expires_at())},
    ]);
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true,
             "text": format!("Approval requested: {} on {}", view::kinds(request), request.connection())},
            {"type": "FactSet", "facts": facts},
            {"type": "TextBlock", "fontType": "Monospace", "wrap": true, "text": request.text()},
            {"type": "TextBlock", "isSubtle": true, "wrap": true, "size": "Small",
             "text": format!("request {id}")},
        ],
    });
    if let (Some(base), Some(card)) = (inbox, card.as_object_mut()) {
        let open = json!([{
            "type": "Action.OpenUrl",
            "title": "Open in airlock",
            "url": format!("{base}/approvals/{id}"),
        }]);
        card.insert("actions".to_owned(), open);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}
