//! The seam where a model would plug in, and the deterministic built-in agent.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::message::Message;

/// A boxed future, so agents can be chosen at run time.
pub type AgentFuture<'a> = Pin<Box<dyn Future<Output = Result<String, AgentError>> + Send + 'a>>;

/// Why an agent could not reply.
#[derive(Debug, thiserror::Error)]
#[error("the agent could not reply: {0}")]
pub struct AgentError(pub String);

/// Produces a reply to a user's message, given their recent history (oldest first).
///
/// A real model client implements this; the server needs nothing else from it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use vitals_server::agent::{Agent, AgentFuture, Message};
///
/// /// Answers every message with its length.
/// struct Counter;
///
/// impl Agent for Counter {
///     fn reply<'a>(&'a self, _user: &'a str, message: &'a str, _history: &'a [Message]) -> AgentFuture<'a> {
///         Box::pin(async move { Ok(format!("{} characters", message.chars().count())) })
///     }
/// }
///
/// assert_eq!(Counter.reply("ann", "hello", &[]).await.unwrap(), "5 characters");
/// // Serve it with AppState::with_agent(&settings, Arc::new(Counter)).
/// # }
/// ```
pub trait Agent: Send + Sync + 'static {
    /// The reply to `message`.
    fn reply<'a>(
        &'a self,
        user_id: &'a str,
        message: &'a str,
        history: &'a [Message],
    ) -> AgentFuture<'a>;
}

/// Wellness tips chosen by keyword: the same input always gives the same reply. An optional
/// think time imitates a slow model for load tests.
#[derive(Clone, Debug, Default)]
pub struct RuleAgent {
    think: Duration,
}

impl RuleAgent {
    /// An agent that waits `think` before each reply.
    pub fn new(think: Duration) -> Self {
        Self { think }
    }
}

const RULES: &[(&[&str], &str)] = &[
    (
        &["sleep", "tired", "insomnia", "rest"],
        "Keep a regular bedtime, dim screens for the last hour of the day, and keep the bedroom cool and dark.",
    ),
    (
        &["stress", "anxious", "anxiety", "worried", "overwhelmed"],
        "Try four slow breaths, in for four counts and out for six; a short walk outside also lowers stress.",
    ),
    (
        &["water", "thirsty", "hydrat", "drink"],
        "Keep a bottle within reach and sip through the day; pale yellow urine is a good sign you drink enough.",
    ),
    (
        &["exercise", "walk", "run", "workout", "gym", "steps"],
        "Aim for about 150 minutes of moderate activity a week; several ten-minute walks count too.",
    ),
    (
        &["food", "eat", "diet", "meal", "snack", "nutrition"],
        "Fill half the plate with vegetables, add a palm of protein, and keep sugary drinks for rare occasions.",
    ),
    (
        &["headache", "migraine", "pain"],
        "Rest in a quiet room and drink some water; see a doctor if the pain is sudden, severe or keeps coming back.",
    ),
];

const FALLBACK: &str = "Small steady habits help most: sleep, movement, water and regular meals. Tell me which one you want to work on.";

impl Agent for RuleAgent {
    fn reply<'a>(
        &'a self,
        _user_id: &'a str,
        message: &'a str,
        history: &'a [Message],
    ) -> AgentFuture<'a> {
        Box::pin(async move {
            if !self.think.is_zero() {
                tokio::time::sleep(self.think).await;
            }
            let lower = message.to_lowercase();
            let tip = RULES
                .iter()
                .find(|(words, _)| words.iter().any(|w| lower.contains(w)))
                .map_or(FALLBACK, |(_, tip)| tip);
            let earlier = history.iter().filter(|m| m.role == "user").count();
            Ok(if earlier == 0 {
                format!("Welcome! {tip}")
            } else {
                tip.to_owned()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keywords_pick_the_tip_and_replies_are_deterministic() {
        let agent = RuleAgent::default();
        let a = agent.reply("u", "I can't SLEEP", &[]).await.expect("reply");
        let b = agent.reply("u", "I can't SLEEP", &[]).await.expect("reply");
        assert_eq!(a, b);
        assert!(a.starts_with("Welcome!") && a.contains("bedtime"), "{a}");
        let other = agent.reply("u", "hello", &[]).await.expect("reply");
        assert!(other.contains("Small steady habits"), "{other}");
    }
}
