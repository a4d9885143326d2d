"""pass starts, work pauses, and a notification when webhook events are stored

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-04 19:30:00.000000

(0004 belongs to a concurrent change; this revision is re-chained after it when both land.)
"""
from alembic import op
import sqlalchemy as sa



revision = '0005'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pass_start',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_by', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_pass_start'))
    )
    op.create_table('work_pause',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_work_pause'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        # wake the workers (LISTEN) as soon as the receiver's INSERT commits
        op.execute("""
            CREATE OR REPLACE FUNCTION connector_inbox_notify() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('connector_inbox', '');
                RETURN NULL;
            END $$
        """)
        op.execute("""
            CREATE TRIGGER inbox_event_notify AFTER INSERT ON inbox_event
            FOR EACH STATEMENT EXECUTE FUNCTION connector_inbox_notify()
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS inbox_event_notify ON inbox_event")
        op.execute("DROP FUNCTION IF EXISTS connector_inbox_notify()")
    op.drop_table('work_pause')
    op.drop_table('pass_start')
