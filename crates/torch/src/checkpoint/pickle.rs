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

/// Runs the pickle at the start of `data`; returns the result and the
/// number of bytes it took (legacy files hold several pickles in a row).
pub fn load(data: &[u8]) -> Result<(Object, usize), PickleError> {
    let mut vm = Vm {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Vec::new(),
    };
    let result = vm.run()?;
    Ok((result, vm.pos))
}

struct Vm<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Object>,
    marks: Vec<usize>,
    memo: Vec<Option<Object>>,
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
    fn run(&mut self) -> Result<Object, PickleError> {
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
                b'(' => self.marks.push(self.stack.len()),
                b')' => self.stack.push(Object::Tuple(Vec::new())),
                b']' => self.stack.push(Object::List(Vec::new())),
                b'}' => self.stack.push(Object::Dict(Vec::new())),
                b'N' => self.stack.push(Object::None),
                0x88 => self.stack.push(Object::Bool(true)),
                0x89 => self.stack.push(Object::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.array()?);
                    self.stack.push(Object::Int(v.into()));
                }
                b'K' => {
                    let v = self.byte()?;
                    self.stack.push(Object::Int(v.into()));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.array()?);
                    self.stack.push(Object::Int(v.into()));
                }
                0x8a => {
                    let n = usize::from(self.byte()?);
                    let v = long(self.take(n)?)?;
                    self.stack.push(Object::Int(v));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.array()?);
                    self.stack.push(Object::Float(v));
                }
                b'X' => {
                    let n = u32::from_le_bytes(self.array()?) as usize;
                    let s = self.text(n)?;
                    self.stack.push(Object::Str(s));
                }
                0x8c | b'U' => {
                    let n = usize::from(self.byte()?);
                    let s = self.text(n)?;
                    self.stack.push(Object::Str(s));
                }
                0x8d => {
                    let n = usize::try_from(u64::from_le_bytes(self.array()?)).map_err(|_| "string too long")?;
                    let s = self.text(n)?;
                    self.stack.push(Object::Str(s));
                }
                b'T' => {
                    let n = u32::from_le_bytes(self.array()?) as usize;
                    let s = self.text(n)?;
                    self.stack.push(Object::Str(s));
                }
                b'B' => {
                    let n = u32::from_le_bytes(self.array()?) as usize;
                    let b = self.take(n)?.to_vec();
                    self.stack.push(Object::Bytes(b));
                }
                b'C' => {
                    let n = usize::from(self.byte()?);
                    let b = self.take(n)?.to_vec();
                    self.stack.push(Object::Bytes(b));
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = resolve(&module, &name)?;
                    self.stack.push(Object::Global(g));
                }
                0x93 => {
                    let name = self.pop_str()?;
                    let module = self.pop_str()?;
                    let g = resolve(&module, &name)?;
                    self.stack.push(Object::Global(g));
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
                    let top = self.stack.last().cloned().ok_or("DUP on an empty stack")?;
                    self.stack.push(top);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Object::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err("TUPLE on a short stack".into());
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Object::Tuple(items));
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Object::List(items));
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items)?;
                    self.stack.push(Object::Dict(pairs));
                }
                b'a' => {
                    let v = self.pop()?;
                    self.list_mut()?.push(v);
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.list_mut()?.extend(items);
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.dict_mut()?.push((k, v));
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let new = pairs(items)?;
                    self.dict_mut()?.extend(new);
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let result = reduce(callable, args)?;
                    self.stack.push(result);
                }
                b'b' => {
                    let state = self.pop()?;
                    build(self.stack.last_mut().ok_or("BUILD on an empty stack")?, state)?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let storage = persistent(pid)?;
                    self.stack.push(Object::Storage(storage));
                }
                _ => {
                    return Err(format!(
                        "unsupported pickle opcode 0x{op:02x} at byte {at}: not a tensor checkpoint pipe can read"
                    ))
                }
            }
        }
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

    fn pop(&mut self) -> Result<Object, PickleError> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err("pop across a mark".into());
        }
        self.stack
            .pop()
            .ok_or_else(|| "pop from an empty stack".into())
    }

    fn pop_str(&mut self) -> Result<String, PickleError> {
        match self.pop()? {
            Object::Str(s) => Ok(s),
            other => Err(format!(
                "expected a string for a global's name, got {}",
                other.describe()
            )),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<Object>, PickleError> {
        let m = self.marks.pop().ok_or("no mark on the stack")?;
        if m > self.stack.len() {
            return Err("a mark above the stack".into());
        }
        Ok(self.stack.split_off(m))
    }

    fn put(&mut self, i: usize) -> Result<(), PickleError> {
        let top = self
            .stack
            .last()
            .cloned()
            .ok_or("memoising from an empty stack")?;
        if i > 10_000_000 {
            return Err("memo index out of range".into());
        }
        if self.memo.len() <= i {
            self.memo.resize(i + 1, None);
        }
        self.memo[i] = Some(top);
        Ok(())
    }

    fn get(&mut self, i: usize) -> Result<(), PickleError> {
        let v = self
            .memo
            .get(i)
            .cloned()
            .flatten()
            .ok_or_else(|| format!("memo entry {i} is not set"))?;
        self.stack.push(v);
        Ok(())
    }

    fn list_mut(&mut self) -> Result<&mut Vec<Object>, PickleError> {
        match self.stack.last_mut() {
            Some(Object::List(l)) => Ok(l),
            other => Err(format!(
                "APPEND to {}",
                other.map_or("nothing", |o| o.describe())
            )),
        }
    }

    fn dict_mut(&mut self) -> Result<&mut Vec<(Object, Object)>, PickleError> {
        match self.stack.last_mut() {
            Some(Object::Dict(d)) => Ok(d),
            other => Err(format!(
                "SETITEM on {}",
                other.map_or("nothing", |o| o.describe())
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
    let Object::Tuple(args) = args else {
        return Err(format!(
            "arguments of {g:?} are {}, not a tuple",
            args.describe()
        ));
    };
    match (g, args.as_slice()) {
        (Global::OrderedDict, []) => Ok(Object::Dict(Vec::new())),
        (Global::OrderedDict, [Object::List(items)]) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Object::Tuple(kv) | Object::List(kv) if kv.len() == 2 => {
                        out.push((kv[0].clone(), kv[1].clone()))
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
            Object::Tensor(_) => Ok(data.clone()),
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
