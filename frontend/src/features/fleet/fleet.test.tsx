import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Container } from "@/api/types";
import { renderAt, stubFetch } from "@/test/utils";
import { pollInterval } from "./api/containers";
import { parseLogChunk } from "./api/followLogs";
import { ContainerStatus } from "./components/ContainerStatus";
import { ContainersTable } from "./components/ContainersTable";
import { EnvironmentDialog } from "./components/EnvironmentDialog";
import { RunContainerDialog } from "./components/RunContainerDialog";

const container = (fields: Partial<Container>) => ({ id: "1", name: "web-1", status: "running", progress: {}, error: "", ...fields }) as Container;

describe("fleet views", () => {
  it("splits streamed log output into lines, keeping a partial line for later", () => {
    const { lines, rest } = parseLogChunk('{"log":"one\\n","stream":"stdout"}\n{"log":"two"}\n{"log":"thr');
    expect(lines.map((line) => line.log)).toEqual(["one\n", "two"]);
    expect(rest).toBe('{"log":"thr');
  });

  it("polls quickly only while a container is on its way", () => {
    expect(pollInterval([container({ status: "pulling" })])).toBe(1500);
    expect(pollInterval([container({ status: "running" }), container({ status: "exited" })])).toBe(8000);
  });

  it("shows pull progress as a bar", () => {
    render(<ContainerStatus container={container({ status: "pulling", progress: { bytes_done: 512, bytes_total: 2048 } })} />);
    const bar = screen.getByRole("progressbar", { name: "Pulling web-1" });
    expect(bar).toHaveAttribute("value", "512");
    expect(screen.getByText("512 B / 2.0 KiB")).toBeInTheDocument();
  });

  it("shows a running container's health beside its status", () => {
    const { unmount } = render(<ContainerStatus container={container({ status: "running", health: "unhealthy" })} />);
    expect(screen.getByText("unhealthy")).toBeInTheDocument();
    unmount();
    render(<ContainerStatus container={container({ status: "exited", health: "healthy", exit_code: 0 })} />);
    expect(screen.queryByText("healthy")).not.toBeInTheDocument();
  });

  it("lists published ports, marking UDP ones", () => {
    const ports = [
      { host_ip: "0.0.0.0", host_port: 8080, container_port: 80 },
      { host_ip: "0.0.0.0", host_port: 5353, container_port: 53, protocol: "udp" },
    ];
    renderAt(<ContainersTable project="web" containers={[container({ repository: "web/app", reference: "1.0", host: "node-a", spec: { ports } })]} canUpdate={false} canDelete={false} canRead />);
    expect(screen.getByText("8080→80, 5353→53/udp")).toBeInTheDocument();
  });

  it("runs an artifact with environment, ports, limits and restart policy", async () => {
    const calls = stubFetch({ "POST /projects/web/containers": { status: 202, body: container({ status: "pending" }) } });
    renderAt(<RunContainerDialog project="web" open onClose={() => {}} repository="team/app" reference="1.0" />);
    await userEvent.type(screen.getByLabelText("Environment"), "MODE=prod{enter}DEBUG=0");
    await userEvent.type(screen.getByLabelText("Ports"), "8080:80");
    await userEvent.type(screen.getByLabelText("Memory limit"), "256m");
    await userEvent.type(screen.getByLabelText("Health check"), "wget -q -O- localhost");
    await userEvent.selectOptions(screen.getByLabelText("Restart policy"), "unless-stopped");
    await userEvent.click(screen.getByRole("button", { name: "Run" }));
    expect(calls[0].body).toEqual({
      repository: "team/app",
      reference: "1.0",
      restart: "unless-stopped",
      env: ["MODE=prod", "DEBUG=0"],
      ports: ["8080:80"],
      memory: "256m",
      healthcheck: { cmd: "wget -q -O- localhost" },
    });
  });

  it("sends secret environment apart, keeping '=' inside values", async () => {
    const calls = stubFetch({ "POST /projects/web/containers": { status: 202, body: container({ status: "pending" }) } });
    renderAt(<RunContainerDialog project="web" open onClose={() => {}} repository="team/app" reference="1.0" />);
    await userEvent.type(screen.getByLabelText("Environment"), "MODE=prod");
    await userEvent.type(screen.getByLabelText("Secret environment"), "DB_PASSWORD=a=b{enter}TOKEN=t");
    await userEvent.click(screen.getByRole("button", { name: "Run" }));
    expect(calls[0].body).toMatchObject({ env: ["MODE=prod"], secret_env: { DB_PASSWORD: "a=b", TOKEN: "t" } });
  });

  it("shows plain values, marks secrets and says why values are hidden", () => {
    const env = [
      { name: "MODE", value: null, secret: false },
      { name: "DB_PASSWORD", value: null, secret: true },
    ];
    const { unmount } = render(<EnvironmentDialog container={container({ env })} onClose={() => {}} />);
    expect(screen.getByText("secret, not shown")).toBeInTheDocument();
    expect(screen.getByText("hidden")).toBeInTheDocument();
    expect(screen.getByText("Values are shown to those who may deploy in this project.")).toBeInTheDocument();
    unmount();
    render(<EnvironmentDialog container={container({ env: [{ name: "MODE", value: "prod", secret: false }] })} onClose={() => {}} />);
    expect(screen.getByText("prod")).toBeInTheDocument();
    expect(screen.queryByText(/may deploy/)).not.toBeInTheDocument();
  });
});
