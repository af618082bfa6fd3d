//! mqsim: message-queue capacity planning from one scenario file — closed-form queueing
//! theory, a discrete-event simulation with RabbitMQ semantics, and a real in-crate broker.
#![warn(missing_docs)]

pub mod analytic;
pub mod arrival;
pub mod broker;
pub mod cancel;
pub mod dist;
pub mod hint;
pub mod loadtest;
pub mod merge;
pub mod mq;
pub mod rabbitmq;
pub mod report;
pub mod results;
pub mod routing;
pub mod scenario;
pub mod sim;
pub mod size;
pub mod stats;
pub mod sweep;
pub mod validate;
