//! A pickle reader that executes nothing: the subset of the pickle virtual
//! machine that `torch.save` emits, with a whitelist of the globals a tensor
//! checkpoint may name.
//!
//! Any other global (`os.system`, `builtins.eval`, a user class) is refused
//! with its name before anything is called; the whitelisted ones are never
//! "called" either: REDUCE on them builds plain data ([`Object::Tensor`] from
//! `_rebuild_tensor_v2`'s arguments). Memo entries are copies, so a container
//! filled after it was memoised and fetched again later reads as it was when
//! stored; `torch.save` never emits that for a state dict.
//!
//! A hostile pickle is bounded, not just refused: every value on the stack
//! carries its size and nesting depth ([`Node`]); whatever the machine builds
//! (a pushed value, a memo copy, a DUP) is charged to a budget of
//! [`BUDGET`] bytes, and no value nests deeper than [`MAX_DEPTH`]. So a
//! 1 KB pickle whose memo copies double per level, or one nesting a million
//! lists, fails with a message instead of eating the worker's memory or
//! overflowing its stack (the values' `Drop` and `Clone` recurse).

use std::collections::HashMap;

use super::dtype::Dtype;

/// What a whitelisted global stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum Global {
    OrderedDict,
    RebuildTensor,
    RebuildTensorV2,
    RebuildParameter,
    RebuildParameterWithState,
    Size,
    Storage(Dtype),
}

/// A storage named by a persistent id: `('storage', torch.FloatStorage,
/// key, location, numel[, view_metadata])`.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageRef {
    pub key: String,
    pub dtype: Dtype,
    pub numel: u64,
    /// Pre-1.0 legacy files: this storage is `size` elements of storage
    /// `key`'s root at element `offset`; `(view key, offset, size)`.
    pub view: Option<(String, u64, u64)>,
}

/// A tensor as a view into a storage, in elements.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorRef {
    pub storage: StorageRef,
    pub offset: i64,
    pub size: Vec<i64>,
    pub stride: Vec<i64>,
}

/// A value on the pickle stack.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Object>),
    List(Vec<Object>),
    Dict(Vec<(Object, Object)>),
    Global(Global),
    Storage(StorageRef),
    Tensor(TensorRef),
}

impl Object {
    fn describe(&self) -> &'static str {
        match self {
            Object::None => "None",
            Object::Bool(_) => "a bool",
            Object::Int(_) => "an int",
            Object::Float(_) => "a float",
            Object::Str(_) => "a string",
            Object::Bytes(_) => "bytes",
            Object::Tuple(_) => "a tuple",
            Object::List(_) => "a list",
            Object::Dict(_) => "a dict",
            Object::Global(_) => "a class or function",
            Object::Storage(_) => "a storage",
            Object::Tensor(_) => "a tensor",
        }
    }
}

/// Why a pickle could not be read; the caller adds the file name.
pub type PickleError = String;

/// The most bytes of values one pickle may build, counting every memo copy
/// and DUP. A state dict's pickle builds a few megabytes at most (ViT-L/16:
/// about 2 MB); the tensors' data lies outside it.
pub const BUDGET: u64 = 256 << 20;

/// The deepest nesting of containers a pickle may build. A state dict nests
/// about five deep (a nested dict, a tensor's arguments, its size tuple).
pub const MAX_DEPTH: u32 = 100;

/// What one value costs against [`BUDGET`] besides the bytes it holds.
const NODE_BYTES: u64 = std::mem::size_of::<Object>() as u64;

/// Runs the pickle at the start of `data`; returns the result and the
/// number of bytes it took (legacy files hold several pickles in a row).
pub fn load(data: &[u8]) -> Result<(Object, usize), PickleError> {
    let mut vm = Vm {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        spent: 0,
    };
    let result = vm.run()?;
    Ok((result.object, vm.pos))
}

/// A value on the stack with what it cost to build and how deep it nests,
/// so copies are charged and nesting is checked without walking the value.
#[derive(Clone)]
struct Node {
    object: Object,
    bytes: u64,
    depth: u32,
}

impl Node {
    /// A value without children: one node plus its bytes.
    fn leaf(object: Object) -> Node {
        let payload = match &object {
            Object::Str(s) => s.len(),
            Object::Bytes(b) => b.len(),
            _ => 0,
        };
        Node {
            object,
            bytes: NODE_BYTES + payload as u64,
            depth: 0,
        }
    }

    /// A container of `items`, checked against [`MAX_DEPTH`].
    fn container(items: Vec<Node>, make: fn(Vec<Object>) -> Object) -> Result<Node, PickleError> {
        let (bytes, depth) = measure(&items)?;
        Ok(Node {
            object: make(items.into_iter().map(|n| n.object).collect()),
            bytes,
            depth,
        })
    }

    fn dict(items: Vec<Node>) -> Result<Node, PickleError> {
        let (bytes, depth) = measure(&items)?;
        let pairs = pairs(items.into_iter().map(|n| n.object).collect())?;
        Ok(Node {
            object: Object::Dict(pairs),
            bytes,
            depth,
        })
    }

    /// Takes `item` in as a child (APPEND, SETITEM).
    fn adopt(&mut self, item: &Node) -> Result<(), PickleError> {
        self.bytes = self.bytes.saturating_add(item.bytes);
        self.depth = self.depth.max(deeper(item.depth)?);
        Ok(())
    }
}

/// The size and depth of a container holding `items`.
fn measure(items: &[Node]) -> Result<(u64, u32), PickleError> {
    let bytes = items
        .iter()
        .fold(NODE_BYTES, |sum, n| sum.saturating_add(n.bytes));
    let depth = deeper(items.iter().map(|n| n.depth).max().unwrap_or(0))?;
    Ok((bytes, depth))
}

/// The depth of a container around a child of `depth`.
fn deeper(depth: u32) -> Result<u32, PickleError> {
    if depth >= MAX_DEPTH {
        return Err(format!(
            "values nested more than {MAX_DEPTH} deep: not a tensor checkpoint (a state dict nests a few levels)"
        ));
    }
    Ok(depth + 1)
}

struct Vm<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Node>,
    marks: Vec<usize>,
    memo: HashMap<usize, Node>,
    /// Bytes built so far, against [`BUDGET`].
    spent: u64,
}

/// The globals a checkpoint may name, and nothing else.
fn resolve(module: &str, name: &str) -> Result<Global, PickleError> {
    let global = match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("torch._utils", "_rebuild_tensor") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
        ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
        ("torch._utils", "_rebuild_parameter_with_state") => Global::RebuildParameterWithState,
        ("torch", "Size") => Global::Size,
        // Files saved from a GPU name `torch.cuda.FloatStorage`; pipe reads
        // every storage onto the CPU.
        ("torch" | "torch.cuda", storage) => match Dtype::from_storage(storage) {
            Some(d) => Global::Storage(d),
            None => return Err(refuse(module, name)),
        },
        _ => return Err(refuse(module, name)),
    };
    Ok(global)
}

fn refuse(module: &str, name: &str) -> PickleError {
    format!("refusing to load `{module}.{name}`: not a tensor checkpoint (pipe reads only tensors, never runs pickled code)")
}

impl Vm<'_> {
    fn run(&mut self) -> Result<Node, PickleError> {
        loop {
            let at = self.pos;
            let op = self.byte()?;
            match op {
                0x80 => {
                    self.byte()?; // PROTO: the version changes nothing we read.
                }
                0x95 => {
                    self.take(8)?; // FRAME: a length hint only.
                }
                b'.' => return self.pop(),
                b'(' => {
                    self.charge(std::mem::size_of::<usize>() as u64)?;
                    self.marks.push(self.stack.len());
                }
                b')' => self.push(Object::Tuple(Vec::new()))?,
                b']' => self.push(Object::List(Vec::new()))?,
                b'}' => self.push(Object::Dict(Vec::new()))?,
                b'N' => self.push(Object::None)?,
                0x88 => self.push(Object::Bool(true))?,
                0x89 => self.push(Object::Bool(false))?,
                b'J' => {
                    let v = i32::from_le_bytes(self.array()?);
                    self.push(Object::Int(v.into()))?;
                }
                b'K' => {
                    let v = self.byte()?;
                    self.push(Object::Int(v.into()))?;
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.array()?);
                    self.push(Object::Int(v.into()))?;
                }
                0x8a => {
                    let n = usize::from(self.byte()?);
                    let v = long(self.take(n)?)?;
                    self.push(Object::Int(v))?;
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.array()?);
                    self.push(Object::Float(v))?;
                }
                b'X' | b'T' => {
                    let n = u32::from_le_bytes(self.array()?) as usize;
                    let s = self.text(n)?;
                    self.push(Object::Str(s))?;
                }
                0x8c | b'U' => {
                    let n = usize::from(self.byte()?);
                    let s = self.text(n)?;
                    self.push(Object::Str(s))?;
                }
                0x8d => {
                    let n = usize::try_from(u64::from_le_bytes(self.array()?))
                        .map_err(|_| "string too long")?;
                    let s = self.text(n)?;
                    self.push(Object::Str(s))?;
                }
                b'B' => {
                    let n = u32::from_le_bytes(self.array()?) as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Object::Bytes(b))?;
                }
                b'C' => {
                    let n = usize::from(self.byte()?);
                    let b = self.take(n)?.to_vec();
                    self.push(Object::Bytes(b))?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = resolve(&module, &name)?;
                    self.push(Object::Global(g))?;
                }
                0x93 => {
                    let name = self.pop_str()?;
                    let module = self.pop_str()?;
                    let g = resolve(&module, &name)?;
                    self.push(Object::Global(g))?;
                }
                b'q' => {
                    let i = usize::from(self.byte()?);
                    self.put(i)?;
                }
                b'r' => {
                    let i = u32::from_le_bytes(self.array()?) as usize;
                    self.put(i)?;
                }
                0x94 => {
                    let i = self.memo.len();
                    self.put(i)?;
                }
                b'h' => {
                    let i = usize::from(self.byte()?);
                    self.get(i)?;
                }
                b'j' => {
                    let i = u32::from_le_bytes(self.array()?) as usize;
                    self.get(i)?;
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let bytes = self.stack.last().ok_or("DUP on an empty stack")?.bytes;
                    self.charge(bytes)?;
                    let copy = self.stack.last().cloned().ok_or("DUP on an empty stack")?;
                    self.stack.push(copy);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.build_container(Node::container(items, Object::Tuple)?)?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err("TUPLE on a short stack".into());
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.build_container(Node::container(items, Object::Tuple)?)?;
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.build_container(Node::container(items, Object::List)?)?;
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.build_container(Node::dict(items)?)?;
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    // The result is made of the arguments' parts, moved.
                    let node = Node {
                        bytes: args.bytes.saturating_add(callable.bytes),
                        depth: args.depth,
                        object: reduce(callable.object, args.object)?,
                    };
                    self.stack.push(node);
                }
                b'b' => {
                    let state = self.pop()?;
                    let top = self.stack.last_mut().ok_or("BUILD on an empty stack")?;
                    build(&mut top.object, state.object)?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let node = Node {
                        bytes: pid.bytes,
                        depth: 0,
                        object: Object::Storage(persistent(pid.object)?),
                    };
                    self.stack.push(node);
                }
                _ => {
                    return Err(format!(
                        "unsupported pickle opcode 0x{op:02x} at byte {at}: not a tensor checkpoint pipe can read"
                    ))
                }
            }
        }
    }

    /// Counts `bytes` of built values against [`BUDGET`].
    fn charge(&mut self, bytes: u64) -> Result<(), PickleError> {
        self.spent = self.spent.saturating_add(bytes);
        if self.spent > BUDGET {
            return Err(format!(
                "the pickle builds more than {} MB of values (memo copies count): not a tensor checkpoint",
                BUDGET >> 20
            ));
        }
        Ok(())
    }

    fn push(&mut self, object: Object) -> Result<(), PickleError> {
        let node = Node::leaf(object);
        self.charge(node.bytes)?;
        self.stack.push(node);
        Ok(())
    }

    /// Pushes a new container; its items were charged when they were built.
    fn build_container(&mut self, node: Node) -> Result<(), PickleError> {
        self.charge(NODE_BYTES)?;
        self.stack.push(node);
        Ok(())
    }

    fn byte(&mut self) -> Result<u8, PickleError> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or("the pickle ends early (truncated file?)")?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], PickleError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or("the pickle ends early (truncated file?)")?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn text(&mut self, n: usize) -> Result<String, PickleError> {
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a pickled string is not utf-8".to_string())
    }

    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("the pickle ends early (truncated file?)")?;
        let s = self.text(n)?;
        self.pos += 1;
        Ok(s)
    }

    fn pop(&mut self) -> Result<Node, PickleError> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err("pop across a mark".into());
        }
        self.stack
            .pop()
            .ok_or_else(|| "pop from an empty stack".into())
    }

    fn pop_str(&mut self) -> Result<String, PickleError> {
        match self.pop()?.object {
            Object::Str(s) => Ok(s),
            other => Err(format!(
                "expected a string for a global's name, got {}",
                other.describe()
            )),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<Node>, PickleError> {
        let m = self.marks.pop().ok_or("no mark on the stack")?;
        if m > self.stack.len() {
            return Err("a mark above the stack".into());
        }
        Ok(self.stack.split_off(m))
    }

    /// Memoises a copy of the top of the stack, charged like any build.
    fn put(&mut self, i: usize) -> Result<(), PickleError> {
        let bytes = self
            .stack
            .last()
            .ok_or("memoising from an empty stack")?
            .bytes;
        self.charge(bytes)?;
        let copy = self
            .stack
            .last()
            .cloned()
            .ok_or("memoising from an empty stack")?;
        self.memo.insert(i, copy);
        Ok(())
    }

    /// Pushes a copy of memo entry `i`, charged before it is made.
    fn get(&mut self, i: usize) -> Result<(), PickleError> {
        let bytes = self
            .memo
            .get(&i)
            .map(|n| n.bytes)
            .ok_or_else(|| format!("memo entry {i} is not set"))?;
        self.charge(bytes)?;
        let copy = self.memo[&i].clone();
        self.stack.push(copy);
        Ok(())
    }

    /// APPEND/APPENDS: `items` into the list on top of the stack.
    fn append(&mut self, items: Vec<Node>) -> Result<(), PickleError> {
        match self.stack.last_mut() {
            Some(top) if matches!(top.object, Object::List(_)) => {
                for item in &items {
                    top.adopt(item)?;
                }
                if let Object::List(list) = &mut top.object {
                    list.extend(items.into_iter().map(|n| n.object));
                }
                Ok(())
            }
            other => Err(format!(
                "APPEND to {}",
                other.map_or("nothing", |n| n.object.describe())
            )),
        }
    }

    /// SETITEM/SETITEMS: key, value, ... into the dict on top of the stack.
    fn set_items(&mut self, items: Vec<Node>) -> Result<(), PickleError> {
        match self.stack.last_mut() {
            Some(top) if matches!(top.object, Object::Dict(_)) => {
                for item in &items {
                    top.adopt(item)?;
                }
                let new = pairs(items.into_iter().map(|n| n.object).collect())?;
                if let Object::Dict(dict) = &mut top.object {
                    dict.extend(new);
                }
                Ok(())
            }
            other => Err(format!(
                "SETITEM on {}",
                other.map_or("nothing", |n| n.object.describe())
            )),
        }
    }
}

fn long(bytes: &[u8]) -> Result<i128, PickleError> {
    if bytes.len() > 16 {
        return Err("an integer wider than 128 bits".into());
    }
    let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
    let mut buf = [if negative { 0xff } else { 0 }; 16];
    buf[..bytes.len()].copy_from_slice(bytes);
    Ok(i128::from_le_bytes(buf))
}

fn pairs(items: Vec<Object>) -> Result<Vec<(Object, Object)>, PickleError> {
    if !items.len().is_multiple_of(2) {
        return Err("odd number of items for a dict".into());
    }
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn int(o: &Object, what: &str) -> Result<i64, PickleError> {
    match o {
        Object::Int(i) => i64::try_from(*i).map_err(|_| format!("{what} out of range")),
        other => Err(format!("{what} is {}, not an int", other.describe())),
    }
}

fn ints(o: &Object, what: &str) -> Result<Vec<i64>, PickleError> {
    match o {
        Object::Tuple(items) | Object::List(items) => items.iter().map(|i| int(i, what)).collect(),
        other => Err(format!("{what} is {}, not a tuple", other.describe())),
    }
}

/// "Calls" a whitelisted global by building the data it would return.
fn reduce(callable: Object, args: Object) -> Result<Object, PickleError> {
    let Object::Global(g) = callable else {
        return Err(format!(
            "REDUCE on {}, not a class or function",
            callable.describe()
        ));
    };
    let Object::Tuple(mut args) = args else {
        return Err(format!(
            "arguments of {g:?} are {}, not a tuple",
            args.describe()
        ));
    };
    match (g, args.as_mut_slice()) {
        (Global::OrderedDict, []) => Ok(Object::Dict(Vec::new())),
        (Global::OrderedDict, [Object::List(items)]) => {
            let mut out = Vec::with_capacity(items.len());
            for item in std::mem::take(items) {
                match item {
                    Object::Tuple(kv) | Object::List(kv) if kv.len() == 2 => {
                        let mut kv = kv.into_iter();
                        if let (Some(k), Some(v)) = (kv.next(), kv.next()) {
                            out.push((k, v));
                        }
                    }
                    _ => return Err("OrderedDict built from something other than pairs".into()),
                }
            }
            Ok(Object::Dict(out))
        }
        (Global::Size, [sizes]) => Ok(Object::Tuple(
            ints(sizes, "a size")?
                .into_iter()
                .map(|i| Object::Int(i.into()))
                .collect(),
        )),
        (Global::RebuildTensor | Global::RebuildTensorV2, [storage, offset, size, stride, ..]) => {
            let Object::Storage(storage) = storage else {
                return Err(format!(
                    "a tensor rebuilt from {}, not a storage",
                    storage.describe()
                ));
            };
            let tensor = TensorRef {
                storage: storage.clone(),
                offset: int(offset, "a storage offset")?,
                size: ints(size, "a tensor size")?,
                stride: ints(stride, "a tensor stride")?,
            };
            if tensor.size.len() != tensor.stride.len() {
                return Err("a tensor whose size and stride differ in length".into());
            }
            Ok(Object::Tensor(tensor))
        }
        (Global::RebuildParameter | Global::RebuildParameterWithState, [data, ..]) => match data {
            Object::Tensor(_) => Ok(std::mem::replace(data, Object::None)),
            other => Err(format!(
                "a parameter rebuilt from {}, not a tensor",
                other.describe()
            )),
        },
        (g, args) => Err(format!(
            "unexpected arguments for {g:?} ({} of them)",
            args.len()
        )),
    }
}

/// BUILD: an OrderedDict's instance attributes (`_metadata`) are accepted
/// and dropped; the version numbers in them only steer renames that
/// [`super::rename`] applies by pattern.
fn build(target: &mut Object, state: Object) -> Result<(), PickleError> {
    match (target, state) {
        (Object::Dict(_), Object::Dict(_) | Object::None) => Ok(()),
        (Object::Tensor(_), _) => Ok(()),
        (target, state) => Err(format!(
            "cannot set the state of {} from {}",
            target.describe(),
            state.describe()
        )),
    }
}

fn persistent(pid: Object) -> Result<StorageRef, PickleError> {
    let Object::Tuple(items) = pid else {
        return Err(format!(
            "a persistent id that is {}, not a tuple",
            pid.describe()
        ));
    };
    match items.as_slice() {
        [Object::Str(tag), Object::Global(Global::Storage(dtype)), Object::Str(key), _location, numel, rest @ ..]
            if tag == "storage" =>
        {
            let view = match rest {
                [] | [Object::None] => None,
                [Object::Tuple(v)] => match v.as_slice() {
                    [Object::Str(vkey), offset, size] => Some((
                        vkey.clone(),
                        u64::try_from(int(offset, "a view offset")?)
                            .map_err(|_| "negative view offset")?,
                        u64::try_from(int(size, "a view size")?)
                            .map_err(|_| "negative view size")?,
                    )),
                    _ => return Err("unrecognised storage view metadata".into()),
                },
                _ => return Err("unrecognised storage persistent id".into()),
            };
            let numel = u64::try_from(int(numel, "a storage size")?)
                .map_err(|_| "negative storage size")?;
            Ok(StorageRef {
                key: key.clone(),
                dtype: *dtype,
                numel,
                view,
            })
        }
        _ => Err("a persistent id that is not a torch storage".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tensor_globals_resolve() {
        assert_eq!(
            resolve("torch", "HalfStorage"),
            Ok(Global::Storage(Dtype::F16))
        );
        assert_eq!(
            resolve("torch.cuda", "FloatStorage"),
            Ok(Global::Storage(Dtype::F32))
        );
        assert_eq!(
            resolve("collections", "OrderedDict"),
            Ok(Global::OrderedDict)
        );
        for (module, name) in [
            ("os", "system"),
            ("builtins", "eval"),
            ("torch", "load"),
            ("torch.cuda", "Size"),
            ("torch._utils", "_rebuild_device_tensor_from_numpy"),
            ("collections", "defaultdict"),
        ] {
            let err = resolve(module, name).expect_err(name);
            assert!(
                err.contains(&format!("refusing to load `{module}.{name}`")),
                "{err}"
            );
        }
    }

    #[test]
    fn reads_nested_containers_memo_and_big_ints() {
        // {'a': [1, -2, 2**70], 'b': ('x', 1.5, None, True, 'x')} at
        // protocol 2, the second 'x' fetched back from the memo.
        let mut q = vec![
            0x80, 2, b'}', b'(', 0x8c, 1, b'a', b']', b'(', b'K', 1, b'J',
        ];
        q.extend_from_slice(&(-2i32).to_le_bytes());
        q.extend_from_slice(&[
            0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, b'e', 0x8c, 1, b'b', b'(', 0x8c, 1, b'x', b'q',
            1,
        ]);
        q.push(b'G');
        q.extend_from_slice(&1.5f64.to_be_bytes());
        q.extend_from_slice(&[b'N', 0x88, b'h', 1, b't', b'u', b'.']);
        let (o, n) = load(&q).expect("loads");
        assert_eq!(n, q.len());
        let expected = Object::Dict(vec![
            (
                Object::Str("a".into()),
                Object::List(vec![Object::Int(1), Object::Int(-2), Object::Int(1 << 70)]),
            ),
            (
                Object::Str("b".into()),
                Object::Tuple(vec![
                    Object::Str("x".into()),
                    Object::Float(1.5),
                    Object::None,
                    Object::Bool(true),
                    Object::Str("x".into()),
                ]),
            ),
        ]);
        assert_eq!(o, expected);
        // A pickle cut short is an error, not a panic.
        for cut in 0..q.len() {
            assert!(load(&q[..cut]).is_err(), "cut at {cut}");
        }
    }
}
