//! `POST /fine_tuning/alpha/graders/run`: scores one model sample with a grader, deterministically.
//!
//! Templates (`{{sample.output_text}}`, `{{sample.output_json.a.b}}`, `{{item.a.b}}`) are filled
//! as OpenAI's graders guide describes; a variable that does not resolve is an
//! `invalid_variable_error` with reward 0. What the sandbox cannot do is said in the metadata, not
//! faked: a `python` grader is not executed (`python_grader_server_error`), and model graders
//! (`score_model`, `label_model`) have no model behind them (`model_grader_server_error`).
//! `string_check` is exact; `text_similarity` computes `fuzzy_match` as a normalised Levenshtein
//! similarity and every other metric as unigram F1, a documented stand-in. `multi` runs its
//! graders and evaluates `calculate_output` (numbers, grader names, `+ - * /`, parentheses,
//! `min`, `max`, `abs`).

use serde_json::{Map, Value, json};

/// The flags of RunGraderResponse.metadata.errors.
#[derive(Default)]
struct Errors {
    formula_parse_error: bool,
    invalid_variable_error: bool,
    python_grader_server_error: bool,
    model_grader_server_error: bool,
    other_error: bool,
}

/// Longest rendered template or sample the sandbox compares (bounds the Levenshtein table).
const MAX_COMPARED_CHARS: usize = 4096;

/// Runs `grader` on `sample` with `item`; returns the RunGraderResponse body.
pub fn run(grader: &Value, sample: &str, item: &Value) -> Value {
    let sample_json: Option<Value> = serde_json::from_str(sample).ok();
    let ctx = Ctx {
        sample,
        sample_json: sample_json.as_ref(),
        item,
    };
    let mut errors = Errors::default();
    let mut sub_rewards = Map::new();
    let reward = score(grader, &ctx, &mut errors, &mut sub_rewards, 0);
    let name = grader.get("name").and_then(Value::as_str).unwrap_or("");
    let kind = grader.get("type").and_then(Value::as_str).unwrap_or("");
    json!({
        "reward": reward,
        "metadata": {
            "name": name,
            "type": kind,
            "errors": {
                "formula_parse_error": errors.formula_parse_error,
                "sample_parse_error": false,
                "truncated_observation_error": false,
                "unresponsive_reward_error": false,
                "invalid_variable_error": errors.invalid_variable_error,
                "other_error": errors.other_error,
                "python_grader_server_error": errors.python_grader_server_error,
                "python_grader_server_error_type": errors.python_grader_server_error.then_some("sandbox_does_not_execute_python"),
                "python_grader_runtime_error": false,
                "python_grader_runtime_error_details": null,
                "model_grader_server_error": errors.model_grader_server_error,
                "model_grader_refusal_error": false,
                "model_grader_parse_error": false,
                "model_grader_server_error_details": errors.model_grader_server_error.then_some("the sandbox has no model to grade with"),
            },
            "execution_time": 0.0,
            "scores": sub_rewards.clone(),
            "token_usage": null,
            "sampled_model_name": null,
        },
        "sub_rewards": sub_rewards,
        "model_grader_token_usage_per_model": {},
    })
}

struct Ctx<'a> {
    sample: &'a str,
    sample_json: Option<&'a Value>,
    item: &'a Value,
}

fn score(
    grader: &Value,
    ctx: &Ctx<'_>,
    errors: &mut Errors,
    subs: &mut Map<String, Value>,
    depth: u8,
) -> f64 {
    let field = |k: &str| grader.get(k).and_then(Value::as_str).unwrap_or("");
    match field("type") {
        "string_check" => {
            let (Some(input), Some(reference)) = (
                render(field("input"), ctx, errors),
                render(field("reference"), ctx, errors),
            ) else {
                return 0.0;
            };
            let hit = match field("operation") {
                "eq" => input == reference,
                "ne" => input != reference,
                "like" => input.contains(&reference),
                "ilike" => input.to_lowercase().contains(&reference.to_lowercase()),
                _ => {
                    errors.other_error = true;
                    false
                }
            };
            if hit { 1.0 } else { 0.0 }
        }
        "text_similarity" => {
            let (Some(input), Some(reference)) = (
                render(field("input"), ctx, errors),
                render(field("reference"), ctx, errors),
            ) else {
                return 0.0;
            };
            match field("evaluation_metric") {
                "fuzzy_match" => fuzzy(&input, &reference),
                _ => unigram_f1(&input, &reference),
            }
        }
        "python" => {
            errors.python_grader_server_error = true;
            0.0
        }
        "score_model" | "label_model" => {
            errors.model_grader_server_error = true;
            0.0
        }
        "multi" if depth == 0 => {
            let mut named: Vec<(String, f64)> = Vec::new();
            let mut add = |g: &Value, fallback: &str| {
                let name = g
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(fallback)
                    .to_string();
                let r = score(g, ctx, errors, subs, depth + 1);
                subs.insert(name.clone(), json!(r));
                named.push((name, r));
            };
            match grader.get("graders") {
                Some(Value::Array(gs)) => gs.iter().for_each(|g| add(g, "")),
                Some(Value::Object(m)) if m.contains_key("type") => {
                    add(&Value::Object(m.clone()), "")
                }
                Some(Value::Object(m)) => m.iter().for_each(|(k, g)| add(g, k)),
                _ => errors.other_error = true,
            }
            match Formula::new(field("calculate_output"), &named).eval() {
                Some(v) if v.is_finite() => v,
                _ => {
                    errors.formula_parse_error = true;
                    0.0
                }
            }
        }
        _ => {
            errors.other_error = true;
            0.0
        }
    }
}

/// Fills `{{ ... }}` variables. `None` (and the error flag) when one does not resolve.
fn render(template: &str, ctx: &Ctx<'_>, errors: &mut Errors) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let var = after[..end].trim();
        match resolve(var, ctx) {
            Some(v) => out.push_str(&v),
            None => {
                errors.invalid_variable_error = true;
                return None;
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Some(out.chars().take(MAX_COMPARED_CHARS).collect())
}

fn resolve(var: &str, ctx: &Ctx<'_>) -> Option<String> {
    let mut parts = var.split('.');
    let root = match (parts.next()?, parts.clone().next()) {
        ("sample", Some("output_text")) => {
            parts.next();
            return parts.next().is_none().then(|| ctx.sample.to_string());
        }
        ("sample", Some("output_json")) => {
            parts.next();
            ctx.sample_json?
        }
        ("item", _) => ctx.item,
        _ => return None,
    };
    let mut v = root;
    for p in parts {
        v = match v {
            Value::Object(m) => m.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// 1 - Levenshtein distance / longer length, over characters.
fn fuzzy(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    1.0 - prev[b.len()] as f64 / longest as f64
}

fn unigram_f1(a: &str, b: &str) -> f64 {
    let words = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_lowercase).collect() };
    let (a, mut b) = (words(a), words(b));
    if a.is_empty() || b.is_empty() {
        return if a.is_empty() && b.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let total_b = b.len();
    let mut common = 0usize;
    for w in &a {
        if let Some(i) = b.iter().position(|x| x == w) {
            b.swap_remove(i);
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let p = common as f64 / a.len() as f64;
    let r = common as f64 / total_b as f64;
    2.0 * p * r / (p + r)
}

/// `calculate_output`: a recursive-descent evaluator over numbers, grader names, `+ - * /`,
/// parentheses and `min(..)`, `max(..)`, `abs(..)`. `None` on any syntax error.
struct Formula<'a> {
    s: &'a [u8],
    at: usize,
    names: &'a [(String, f64)],
    depth: u8,
}

impl<'a> Formula<'a> {
    fn new(s: &'a str, names: &'a [(String, f64)]) -> Self {
        Self {
            s: s.as_bytes(),
            at: 0,
            names,
            depth: 0,
        }
    }

    fn eval(mut self) -> Option<f64> {
        let v = self.sum()?;
        self.ws();
        (self.at == self.s.len()).then_some(v)
    }

    fn ws(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn sum(&mut self) -> Option<f64> {
        let mut v = self.product()?;
        loop {
            if self.eat(b'+') {
                v += self.product()?;
            } else if self.eat(b'-') {
                v -= self.product()?;
            } else {
                return Some(v);
            }
        }
    }

    fn product(&mut self) -> Option<f64> {
        let mut v = self.unary()?;
        loop {
            if self.eat(b'*') {
                v *= self.unary()?;
            } else if self.eat(b'/') {
                v /= self.unary()?;
            } else {
                return Some(v);
            }
        }
    }

    fn unary(&mut self) -> Option<f64> {
        // Nesting is bounded so a hostile formula cannot exhaust the stack.
        self.depth = self.depth.checked_add(1).filter(|d| *d < 64)?;
        let v = if self.eat(b'-') {
            -self.unary()?
        } else {
            self.atom()?
        };
        self.depth -= 1;
        Some(v)
    }

    fn atom(&mut self) -> Option<f64> {
        self.ws();
        if self.eat(b'(') {
            let v = self.sum()?;
            return self.eat(b')').then_some(v);
        }
        let start = self.at;
        let c = *self.s.get(self.at)?;
        if c.is_ascii_digit() || c == b'.' {
            while self
                .s
                .get(self.at)
                .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
            {
                self.at += 1;
            }
            return std::str::from_utf8(&self.s[start..self.at])
                .ok()?
                .parse()
                .ok();
        }
        while self
            .s
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.at += 1;
        }
        let word = std::str::from_utf8(&self.s[start..self.at]).ok()?;
        if word.is_empty() {
            return None;
        }
        if matches!(word, "min" | "max" | "abs") && self.eat(b'(') {
            let mut args = vec![self.sum()?];
            while self.eat(b',') {
                args.push(self.sum()?);
            }
            if !self.eat(b')') {
                return None;
            }
            return match word {
                "min" => args.into_iter().reduce(f64::min),
                "max" => args.into_iter().reduce(f64::max),
                _ => (args.len() == 1).then(|| args[0].abs()),
            };
        }
        self.names.iter().find(|(n, _)| n == word).map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reward(grader: Value, sample: &str, item: Value) -> (f64, Value) {
        let out = run(&grader, sample, &item);
        (
            out["reward"].as_f64().unwrap(),
            out["metadata"]["errors"].clone(),
        )
    }

    #[test]
    fn string_check_fills_templates_from_the_sample_and_the_item() {
        let g = |op: &str| json!({"type": "string_check", "name": "s", "input": "{{sample.output_text}}", "reference": "{{ item.answer.value }}", "operation": op});
        let item = json!({"answer": {"value": "Paris"}});
        assert_eq!(reward(g("eq"), "Paris", item.clone()).0, 1.0);
        assert_eq!(reward(g("eq"), "paris", item.clone()).0, 0.0);
        assert_eq!(reward(g("ilike"), "It is PARIS.", item.clone()).0, 1.0);
        assert_eq!(reward(g("like"), "It is PARIS.", item.clone()).0, 0.0);
        assert_eq!(reward(g("ne"), "Rome", item.clone()).0, 1.0);
        let (r, errors) = reward(g("eq"), "Paris", json!({}));
        assert_eq!(r, 0.0);
        assert_eq!(errors["invalid_variable_error"], true);
        let json_sample = json!({"type": "string_check", "name": "s", "input": "{{sample.output_json.city}}", "reference": "Paris", "operation": "eq"});
        assert_eq!(reward(json_sample, r#"{"city":"Paris"}"#, json!({})).0, 1.0);
    }

    #[test]
    fn similarity_and_what_the_sandbox_cannot_run() {
        let sim = |m: &str| json!({"type": "text_similarity", "name": "t", "input": "{{sample.output_text}}", "reference": "{{item.r}}", "evaluation_metric": m});
        let item = json!({"r": "the cat sat"});
        assert_eq!(
            reward(sim("fuzzy_match"), "the cat sat", item.clone()).0,
            1.0
        );
        let near = reward(sim("fuzzy_match"), "the cat sit", item.clone()).0;
        assert!(near > 0.85 && near < 1.0, "{near}");
        let f1 = reward(sim("bleu"), "the cat", item.clone()).0;
        assert!((f1 - 0.8).abs() < 1e-9, "{f1}");
        let (r, e) = reward(
            json!({"type": "python", "name": "p", "source": "def grade(s, i): return 1"}),
            "x",
            json!({}),
        );
        assert_eq!((r, &e["python_grader_server_error"]), (0.0, &json!(true)));
        let (_, e) = reward(
            json!({"type": "score_model", "name": "m", "model": "gpt-4o", "input": []}),
            "x",
            json!({}),
        );
        assert_eq!(e["model_grader_server_error"], true);
    }

    #[test]
    fn multi_combines_named_graders_with_its_formula() {
        let g = json!({
            "type": "multi", "name": "combo",
            "graders": {
                "exact": {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}", "reference": "{{item.a}}", "operation": "eq"},
                "close": {"type": "text_similarity", "name": "close", "input": "{{sample.output_text}}", "reference": "{{item.a}}", "evaluation_metric": "fuzzy_match"}
            },
            "calculate_output": "0.5 * exact + 0.5 * max(close, 0) - abs(-0)"
        });
        let out = run(&g, "42", &json!({"a": "42"}));
        assert_eq!(out["reward"], 1.0);
        assert_eq!(out["sub_rewards"]["exact"], 1.0);
        let mut broken = g.clone();
        broken["calculate_output"] = json!("exact +");
        let out = run(&broken, "42", &json!({"a": "42"}));
        assert_eq!(out["metadata"]["errors"]["formula_parse_error"], true);
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert_eq!(Formula::new(&deep, &[]).eval(), None);
    }
}
