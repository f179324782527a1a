"""Optional data-parallel training under ``torchrun`` (PyTorch DDP: gloo on CPU, NCCL on GPU)."""
import os
import sys
from contextlib import contextmanager

import torch
import torch.distributed as dist

from ..errors import DeviceError


class Context:
    """Where this process stands: its rank, the world size and its device."""

    def __init__(self, rank=0, world_size=1, device="cpu"):
        self.rank, self.world_size, self.device = rank, world_size, torch.device(device)

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def enabled(self):
        return self.world_size > 1

    def any(self, flag):
        """True on every process when ``flag`` is true on any process (e.g. a stop request)."""
        return self.any_each([flag])[0]

    def any_each(self, flags):
        """For each of ``flags``, whether it is true on any process: the same answer everywhere, from
        one all-reduce for all of them."""
        if not self.enabled:
            return [bool(f) for f in flags]
        values = torch.tensor([1.0 if f else 0.0 for f in flags], device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return [bool(v > 0) for v in values.tolist()]

    def broadcast(self, value):
        """The main process's Python object, on every process."""
        if not self.enabled:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self):
        if self.enabled:
            dist.barrier()


def pick_device(name="auto", local_rank=0):
    """The device to train on: ``auto`` means CUDA when present, else the CPU.

    Raises
    ------
    DeviceError
        For a name torch does not know, or a CUDA device this machine does not have.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"'{name}' is not a device: use cpu, cuda, cuda:N or auto.") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name} asks for a CUDA GPU, but none is available here (torch "
                              f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}). Use --device cpu.")
        index = local_rank if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise DeviceError(f"--device {name} asks for GPU {index}, but this machine has "
                              f"{torch.cuda.device_count()}. Use cuda:0 to cuda:{torch.cuda.device_count() - 1}.")
        return f"cuda:{index}"
    return name


@contextmanager
def launch(device="auto"):
    """Set up DDP when started by torchrun (``WORLD_SIZE`` > 1), else a single-process context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device, local_rank)
    if world_size <= 1:
        yield Context(device=device)
        return
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    try:
        yield Context(dist.get_rank(), dist.get_world_size(), device)
    finally:
        dist.destroy_process_group()


def exit_process(status):
    """End the process with ``status``. A torchrun worker skips the interpreter's teardown: with
    gloo, torch's C++ objects sometimes abort a worker there ("terminate called without an active
    exception", SIGABRT, no Python frame left) after all its work is done and its files written,
    which would turn a finished run into a failure. Everything is flushed first."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        sys.exit(status)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
