//! ECS's cluster query language, as far as the plan evaluates it: [`Expression::parse`] and
//! [`Expression::eval`] (see the parent module for what is judged and what is not).

use std::collections::BTreeMap;
use std::fmt;

use thiserror::Error;

/// A `memberOf` expression that does not parse: names it and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("placement expression {expression:?}: {problem}")]
pub struct ExpressionError {
    pub expression: String,
    pub problem: String,
}

/// What the plan knows of a host for an expression.
#[derive(Debug, Clone, Copy)]
pub struct HostFacts<'a> {
    /// Every attribute of the container instance (ECS's and custom), values as read (`""`
    /// for an attribute without a value).
    pub attributes: &'a BTreeMap<String, String>,
    pub ec2_instance_id: Option<&'a str>,
}

/// A parsed `memberOf` expression; it keeps its text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(into = "String"))]
pub struct Expression {
    text: String,
    node: Node,
}

impl From<Expression> for String {
    fn from(e: Expression) -> String {
        e.text
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Term(Term),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    subject: Subject,
    op: Op,
    args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject {
    Attribute(String),
    Ec2InstanceId,
    /// `task:group`, `runningTasksCount`, `registeredAt`, `agentVersion`, `agentConnected`:
    /// known only to ECS when it places.
    Unknowable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Exists,
    NotExists,
    Matches,
    NotMatches,
    /// `>`, `>=`, `<`, `<=`: only for subjects the plan cannot evaluate.
    Order,
}

impl Expression {
    /// Parses ECS's cluster query language.
    pub fn parse(text: &str) -> Result<Expression, ExpressionError> {
        let fail = |problem: String| ExpressionError {
            expression: text.to_owned(),
            problem,
        };
        let tokens = tokenize(text).map_err(fail)?;
        let mut parser = Parser { tokens, at: 0 };
        let node = parser.or().map_err(fail)?;
        if let Some(rest) = parser.peek() {
            return Err(fail(format!("unexpected {rest:?}")));
        }
        Ok(Expression {
            text: text.to_owned(),
            node,
        })
    }

    /// Whether every term can be evaluated on what the plan reads of a host: no subject only
    /// ECS knows when it places, no regular expression beyond literals, `.` and `.*`.
    pub fn judgeable(&self) -> bool {
        fn node(n: &Node) -> bool {
            match n {
                Node::And(a, b) | Node::Or(a, b) => node(a) && node(b),
                Node::Not(a) => node(a),
                Node::Term(t) => {
                    t.subject != Subject::Unknowable
                        && t.op != Op::Order
                        && (!matches!(t.op, Op::Matches | Op::NotMatches)
                            || t.args.first().is_some_and(|p| full_match(p, "").is_some()))
                }
            }
        }
        node(&self.node)
    }

    /// Whether the expression holds for `host`; `None` when a term cannot be evaluated.
    pub fn eval(&self, host: &HostFacts<'_>) -> Option<bool> {
        eval(&self.node, host)
    }
}

fn eval(node: &Node, host: &HostFacts<'_>) -> Option<bool> {
    match node {
        // Unknown anywhere is unknown: the plan does not lean on short-circuits it cannot see
        // ECS take.
        Node::And(a, b) => Some(eval(a, host)? & eval(b, host)?),
        Node::Or(a, b) => Some(eval(a, host)? | eval(b, host)?),
        Node::Not(a) => eval(a, host).map(|v| !v),
        Node::Term(t) => term(t, host),
    }
}

fn term(t: &Term, host: &HostFacts<'_>) -> Option<bool> {
    let value: Option<&str> = match &t.subject {
        Subject::Attribute(name) => host.attributes.get(name).map(String::as_str),
        Subject::Ec2InstanceId => Some(host.ec2_instance_id?),
        Subject::Unknowable => return None,
    };
    let first = t.args.first().map(String::as_str);
    Some(match t.op {
        Op::Exists => value.is_some(),
        Op::NotExists => value.is_none(),
        Op::Eq => value.is_some() && value == first,
        Op::Ne => value != first,
        Op::In => value.is_some_and(|v| t.args.iter().any(|a| a == v)),
        Op::NotIn => !value.is_some_and(|v| t.args.iter().any(|a| a == v)),
        Op::Matches => match value {
            Some(v) => full_match(first?, v)?,
            None => false,
        },
        Op::NotMatches => match value {
            Some(v) => !full_match(first?, v)?,
            None => true,
        },
        Op::Order => return None,
    })
}

/// Whether `pattern` matches all of `value`, for patterns of literals, `\.`, `.` and `.*`;
/// `None` for any other regular expression.
fn full_match(pattern: &str, value: &str) -> Option<bool> {
    #[derive(Clone, Copy)]
    enum P {
        Lit(char),
        Any,
        AnyRun,
    }
    let mut parts = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if !e.is_ascii_alphanumeric() => parts.push(P::Lit(e)),
                _ => return None,
            },
            '.' if chars.peek() == Some(&'*') => {
                chars.next();
                parts.push(P::AnyRun);
            }
            '.' => parts.push(P::Any),
            '*' | '+' | '?' | '[' | ']' | '(' | ')' | '{' | '}' | '|' | '^' | '$' => {
                return None;
            }
            c => parts.push(P::Lit(c)),
        }
    }
    let value: Vec<char> = value.chars().collect();
    // Backtracking over `.*` runs: patterns are short (at most 2,000 characters in all).
    fn go(parts: &[P], value: &[char]) -> bool {
        match parts.split_first() {
            None => value.is_empty(),
            Some((P::AnyRun, rest)) => (0..=value.len()).any(|i| go(rest, &value[i..])),
            Some((P::Any, rest)) => !value.is_empty() && go(rest, &value[1..]),
            Some((P::Lit(c), rest)) => value.first() == Some(c) && go(rest, &value[1..]),
        }
    }
    Some(go(&parts, &value))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    ListOpen,
    ListClose,
    Comma,
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' | ',' if !after_regex_operator(&out) => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::ListOpen,
                    ']' => Token::ListClose,
                    _ => Token::Comma,
                });
            }
            '\'' | '"' => {
                chars.next();
                let mut word = String::new();
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(ch) => word.push(ch),
                        None => return Err("a quote is not closed".to_owned()),
                    }
                }
                out.push(Token::Word(word));
            }
            _ => {
                // A regular expression runs to the next blank: it may hold ( ) [ ] ,.
                let raw = after_regex_operator(&out);
                let mut word = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || (!raw && matches!(ch, '(' | ')' | '[' | ']' | ',')) {
                        break;
                    }
                    word.push(ch);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

fn after_regex_operator(tokens: &[Token]) -> bool {
    matches!(tokens.last(), Some(Token::Word(w))
        if ["=~", "!~", "matches", "not_matches"].contains(&w.to_ascii_lowercase().as_str()))
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn word_is(&self, words: &[&str]) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if words.iter().any(|x| w.eq_ignore_ascii_case(x)))
    }

    fn or(&mut self) -> Result<Node, String> {
        let mut node = self.and()?;
        while self.word_is(&["or", "||"]) {
            self.at += 1;
            node = Node::Or(Box::new(node), Box::new(self.and()?));
        }
        Ok(node)
    }

    fn and(&mut self) -> Result<Node, String> {
        let mut node = self.not()?;
        while self.word_is(&["and", "&&"]) {
            self.at += 1;
            node = Node::And(Box::new(node), Box::new(self.not()?));
        }
        Ok(node)
    }

    fn not(&mut self) -> Result<Node, String> {
        if self.word_is(&["not", "!"]) {
            self.at += 1;
            return Ok(Node::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let node = self.or()?;
            return match self.next() {
                Some(Token::Close) => Ok(node),
                other => Err(format!("expected ')', found {other:?}")),
            };
        }
        self.term()
    }

    fn term(&mut self) -> Result<Node, String> {
        let subject = match self.next() {
            Some(Token::Word(w)) => subject(&w)?,
            other => return Err(format!("expected a subject, found {other:?}")),
        };
        let op = match self.next() {
            Some(Token::Word(w)) => operator(&w)?,
            other => return Err(format!("expected an operator, found {other:?}")),
        };
        let args = match op {
            Op::Exists | Op::NotExists => Vec::new(),
            Op::In | Op::NotIn => self.list()?,
            _ => match self.next() {
                Some(Token::Word(w)) => vec![w],
                other => return Err(format!("expected an argument, found {other:?}")),
            },
        };
        Ok(Node::Term(Term { subject, op, args }))
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        if self.next() != Some(Token::ListOpen) {
            return Err("expected a list [a, b, …] after in / not_in".to_owned());
        }
        let mut items = Vec::new();
        loop {
            match self.next() {
                Some(Token::Word(w)) => items.push(w),
                Some(Token::ListClose) if items.is_empty() => return Ok(items),
                other => return Err(format!("expected a list item, found {other:?}")),
            }
            match self.next() {
                Some(Token::Comma) => {}
                Some(Token::ListClose) => return Ok(items),
                other => return Err(format!("expected ',' or ']', found {other:?}")),
            }
        }
    }
}

fn subject(word: &str) -> Result<Subject, String> {
    if let Some(name) = word.strip_prefix("attribute:") {
        if name.is_empty() {
            return Err("attribute: names no attribute".to_owned());
        }
        return Ok(Subject::Attribute(name.to_owned()));
    }
    match word {
        "ec2InstanceId" => Ok(Subject::Ec2InstanceId),
        "task:group" | "runningTasksCount" | "registeredAt" | "agentVersion" | "agentConnected" => {
            Ok(Subject::Unknowable)
        }
        other => Err(format!("unknown subject {other:?}")),
    }
}

fn operator(word: &str) -> Result<Op, String> {
    Ok(match word.to_ascii_lowercase().as_str() {
        "==" | "equals" => Op::Eq,
        "!=" | "not_equals" => Op::Ne,
        "in" => Op::In,
        "!in" | "not_in" => Op::NotIn,
        "exists" => Op::Exists,
        "!exists" | "not_exists" => Op::NotExists,
        "=~" | "matches" => Op::Matches,
        "!~" | "not_matches" => Op::NotMatches,
        ">" | ">=" | "<" | "<=" | "greater_than" | "greater_than_equal" | "less_than"
        | "less_than_equal" => Op::Order,
        other => return Err(format!("unknown operator {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn eval_on(expr: &str, pairs: &[(&str, &str)]) -> Option<bool> {
        let attributes = facts(pairs);
        Expression::parse(expr).expect(expr).eval(&HostFacts {
            attributes: &attributes,
            ec2_instance_id: Some("i-0abc"),
        })
    }

    #[test]
    fn the_documented_examples_parse_and_evaluate_on_a_hosts_attributes() {
        let zone_a = [
            ("ecs.availability-zone", "us-east-1a"),
            ("ecs.instance-type", "g2.2xlarge"),
        ];
        assert_eq!(
            eval_on(
                "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
                &zone_a
            ),
            Some(true)
        );
        assert_eq!(
            eval_on(
                "attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d",
                &zone_a
            ),
            Some(true)
        );
        assert_eq!(
            eval_on("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", &zone_a),
            Some(false)
        );
        assert_eq!(
            eval_on(
                "(attribute:ecs.instance-type == t2.small or attribute:ecs.instance-type == g2.2xlarge) and attribute:stack exists",
                &zone_a
            ),
            Some(false),
            "no custom attribute stack"
        );
        assert_eq!(eval_on("attribute:stack not_exists", &zone_a), Some(true));
        assert_eq!(
            eval_on(
                "not(attribute:ecs.availability-zone == us-east-1a)",
                &zone_a
            ),
            Some(false)
        );
    }

    #[test]
    fn a_term_about_tasks_or_time_makes_the_expression_unknown() {
        for expr in [
            "task:group == service:web",
            "runningTasksCount == 1",
            "registeredAt < 2018-06-18",
            "attribute:ecs.availability-zone == a and agentVersion >= 1.30.0",
            "not(task:group == database)",
        ] {
            assert_eq!(
                eval_on(expr, &[("ecs.availability-zone", "a")]),
                None,
                "{expr}"
            );
        }
        // A regular expression beyond literals and .* is not judged either.
        assert_eq!(
            eval_on(
                "attribute:ecs.instance-type =~ (m5|c5).*",
                &[("ecs.instance-type", "m5.large")]
            ),
            None
        );
    }

    #[test]
    fn an_expression_is_judgeable_only_when_every_term_is() {
        for (expr, judgeable) in [
            ("attribute:ecs.availability-zone == a", true),
            (
                "attribute:ecs.instance-type =~ m5.* or ec2InstanceId in [i-1]",
                true,
            ),
            ("task:group == service:web", false),
            ("attribute:x exists and runningTasksCount < 3", false),
            ("attribute:ecs.instance-type =~ (m5|c5).*", false),
        ] {
            assert_eq!(
                Expression::parse(expr).unwrap().judgeable(),
                judgeable,
                "{expr}"
            );
        }
    }

    #[test]
    fn simple_patterns_match_the_whole_value() {
        assert_eq!(full_match("m5.*", "m5.large"), Some(true));
        assert_eq!(full_match("m5\\..*", "m5x.large"), Some(false));
        assert_eq!(full_match("m5.large", "m5.large.more"), Some(false));
        assert_eq!(full_match("c.", "c5"), Some(true));
        assert_eq!(full_match(".*xlarge", "m5.2xlarge"), Some(true));
        assert_eq!(full_match("m[56].*", "m5.large"), None);
    }

    #[test]
    fn a_bad_expression_is_an_error_naming_it() {
        for bad in [
            "attribute:ecs.instance-type",
            "attribute:x == ",
            "attribute:x in a, b",
            "(attribute:x == a",
            "whatever == 1",
            "attribute:x == 'open",
            "attribute:x == a b",
        ] {
            let err = Expression::parse(bad).expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }
}
