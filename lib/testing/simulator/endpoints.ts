/**
 * Business endpoints behind the token check: the built-in ones (message/send, media, user/get, department/list) and
 * the ones tests add with {@link WeComSimulator.addApi}. Each declares its method and the kinds of secret allowed.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { NormalisedApp } from './apps.js';
import { MediaStore } from './media.js';
import { isRecord, parseJson } from './replies.js';
import type { Replies, Reply } from './replies.js';
import { GETTOKEN_PATH } from './tokens.js';
import type { SentMessage, SimulatedApiContext, SimulatedApiHandler, SimulatedApiOptions, SimulatedAppKind } from './types.js';

/** One endpoint: who may call it, how, and what it answers. */
export interface Endpoint {
  readonly method?: 'GET' | 'POST';
  readonly kinds: readonly SimulatedAppKind[];
  readonly handle: (context: SimulatedApiContext) => Reply | Promise<Reply>;
}

/** What {@link Endpoints.dispatch} needs of a request whose token has been checked. */
export interface EndpointCall {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly app: NormalisedApp;
}

const EVERY_KIND: readonly SimulatedAppKind[] = ['app', 'contacts', 'customer-contact'];

interface SimulatedUser {
  readonly userid: string;
  readonly [field: string]: unknown;
}

interface SimulatedDepartment {
  readonly id: number;
  readonly name: string;
  readonly name_en?: string;
  readonly department_leader?: readonly string[];
  readonly parentid: number;
  readonly order: number;
}

/** The endpoint table of one simulator, with the state its built-in endpoints keep. */
export class Endpoints {
  /** Files uploaded or added. */
  readonly media: MediaStore;
  private readonly table = new Map<string, Endpoint>();
  private sent: SentMessage[] = [];
  private readonly users = new Map<string, SimulatedUser>(seedUsers().map((user) => [user.userid, user]));
  private readonly departments: readonly SimulatedDepartment[] = seedDepartments();

  constructor(private readonly replies: Replies) {
    this.media = new MediaStore(replies);
    this.register('/cgi-bin/message/send', { method: 'POST', kinds: ['app'], handle: (c) => this.messageSend(c) });
    this.register('/cgi-bin/media/upload', { method: 'POST', kinds: ['app'], handle: (c) => this.media.upload(c) });
    this.register('/cgi-bin/media/get', { method: 'GET', kinds: ['app'], handle: (c) => this.media.download(c) });
    this.register('/cgi-bin/user/get', { method: 'GET', kinds: ['app', 'contacts'], handle: (c) => this.userGet(c) });
    this.register('/cgi-bin/department/list', {
      method: 'GET',
      kinds: ['app', 'contacts'],
      handle: (c) => this.departmentList(c),
    });
  }

  /** Messages accepted by message/send since the start or the last {@link resetSent}. */
  get sentMessages(): ReadonlyArray<SentMessage> {
    return this.sent;
  }

  /** Forgets the sent messages. */
  resetSent(): void {
    this.sent = [];
  }

  /** Registers (or replaces) an endpoint of the simulator's own roles (tickets, …). */
  register(path: string, endpoint: Endpoint): void {
    this.table.set(path, endpoint);
  }

  /** Registers (or replaces) a test's handler; its body becomes a JSON answer. */
  addApi(path: string, handler: SimulatedApiHandler, options: SimulatedApiOptions): void {
    if (!path.startsWith('/cgi-bin/') || path === GETTOKEN_PATH) {
      throw new Error(`addApi path must start with '/cgi-bin/' and not be gettoken, got '${path}'`);
    }
    this.register(path, {
      ...(options.method ? { method: options.method } : {}),
      kinds: options.kinds ?? EVERY_KIND,
      handle: async (context) => this.replies.json(await handler(context)),
    });
  }

  /**
   * Answers a call whose token is valid. An unknown path gets HTTP 404 with `{"errcode":404,…}`: 404 is not a WeCom
   * errcode, so a test that calls a path the simulator lacks fails visibly instead of passing on a fake success.
   */
  async dispatch(call: EndpointCall): Promise<Reply> {
    const endpoint = this.table.get(call.path);
    if (!endpoint) {
      return this.replies.json({ errcode: 404, errmsg: `WeComSimulator has no API ${call.path}; register one with addApi()` }, 404);
    }
    const method = call.method.toUpperCase();
    if (endpoint.method === 'GET' && method !== 'GET') return this.replies.error(43001);
    if (endpoint.method === 'POST' && method !== 'POST') return this.replies.error(43002);
    if (!endpoint.kinds.includes(call.app.kind)) return this.replies.error(48002);
    return endpoint.handle({ ...call, method, json: parseJson(call.body) });
  }

  private messageSend(context: SimulatedApiContext): Reply {
    const body = context.json;
    if (!isRecord(body)) return this.replies.error(47001);
    if (context.app.agentId === undefined || Number(body.agentid) !== context.app.agentId) {
      return this.replies.error(40056);
    }
    const msgid = randomBytes(30).toString('base64url');
    this.sent.push({ app: context.app.name, msgid, body, at: Date.now() });
    return this.replies.json({ errcode: 0, errmsg: 'ok', invaliduser: '', msgid });
  }

  private userGet(context: SimulatedApiContext): Reply {
    const userid = context.query.userid;
    if (!userid) return this.replies.error(41009);
    const user = this.users.get(userid);
    if (!user) return this.replies.error(60111);
    return this.replies.json({ errcode: 0, errmsg: 'ok', ...structuredClone(user) });
  }

  private departmentList(context: SimulatedApiContext): Reply {
    const id = context.query.id;
    let departments = this.departments;
    if (id) {
      const root = Number(id);
      if (!departments.some((department) => department.id === root)) return this.replies.error(60123);
      const included = new Set([root]);
      // Parents come before children in the seed, so one pass collects the subtree.
      departments = departments.filter((department) => {
        if (department.id === root || included.has(department.parentid)) {
          included.add(department.id);
          return true;
        }
        return false;
      });
    }
    return this.replies.json({ errcode: 0, errmsg: 'ok', department: structuredClone(departments) });
  }
}

function seedUsers(): SimulatedUser[] {
  return [
    {
      userid: 'zhangsan',
      name: '张三',
      department: [1, 2],
      order: [1, 2],
      position: '后台工程师',
      is_leader_in_dept: [1, 0],
      direct_leader: ['lisi'],
      alias: 'jackzhang',
      status: 1,
      main_department: 1,
      telephone: '020-123456',
      extattr: { attrs: [] },
      external_position: '高级工程师',
      open_userid: 'woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA',
    },
    {
      userid: 'lisi',
      name: '李四',
      department: [1],
      order: [0],
      position: '产品经理',
      is_leader_in_dept: [1],
      direct_leader: [],
      alias: 'lisi',
      status: 1,
      main_department: 1,
      telephone: '020-654321',
      extattr: { attrs: [] },
      external_position: '产品经理',
      open_userid: 'woAJ2GCAAAXtWyujaWJHDDGi0mACHBBB',
    },
  ];
}

function seedDepartments(): SimulatedDepartment[] {
  return [
    { id: 1, name: '广州研发中心', name_en: 'RDGZ', department_leader: ['lisi'], parentid: 0, order: 1 },
    { id: 2, name: '邮箱产品部', name_en: 'mail', department_leader: ['zhangsan'], parentid: 1, order: 2 },
    { id: 3, name: '微信客户端部', name_en: 'wechat', department_leader: [], parentid: 1, order: 3 },
    { id: 4, name: '测试组', name_en: 'qa', department_leader: [], parentid: 3, order: 1 },
  ];
}
