//! Integration tests, one module per area: the CLI as a user drives it, the shipped
//! scenarios, and the simulator validated against closed-form queueing theory.

mod arrival_errors;
mod cli;
mod fuzz;
mod golden;
mod interrupt;
mod properties;
mod rabbitmq;
mod robustness;
mod scenarios;
mod support;
mod timeline;
mod validation;
